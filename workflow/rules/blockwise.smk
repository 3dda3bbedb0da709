# Blockwise distillation and fine-tuning (SPEC §5a-§5c), after the benchmark store exists:
# select (teachers and students resolved in the store, written to selection.json, which the
# later jobs read themselves: the DAG is static, no checkpoint) → teacher (one normal training
# each) → distill (one job per teacher × stage, block library + blockwise shard) →
# merge_blockwise (one store per teacher) → finetune_bucket (slice I of N of the students, per
# FT length) → merge_finetune (one store per teacher and FT length; the merge checks that all
# N buckets are there).
rule blockwise_select:
    input:
        BENCHMARK_STORE,
    output:
        SELECTION,
    log:
        "logs/blockwise/select.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        selectors=teacher_selectors,
        names=teacher_names_arg,
        students=students_arg,
    shell:
        "blox-space select {input} {params.selectors} --names {params.names}"
        " --models {params.students} --overwrite --out {output} > {log} 2>&1"


rule teacher:
    input:
        BENCHMARK_STORE,
    output:
        directory(f"{BLOCKWISE_DIR}/teachers/{{teacher}}"),
    log:
        "logs/blockwise/teacher-{teacher}.log",
    benchmark:
        "benchmarks/blockwise/teacher-{teacher}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    params:
        selector=teacher_selector,
        recipe=RECIPE,
        overrides=train_overrides,
    shell:
        "blox-train teacher {params.selector} --benchmark {input} --name {wildcards.teacher}"
        " --recipe {params.recipe} {params.overrides} --threads {threads} --no-progress"
        " --out {output} > {log} 2>&1"


rule distill:
    input:
        teacher=f"{BLOCKWISE_DIR}/teachers/{{teacher}}",
        selection=SELECTION,
    output:
        shard=directory(f"{BLOCKWISE_DIR}/distill/{{teacher}}/stage-{{stage}}.zarr"),
        library=directory(f"{BLOCKWISE_DIR}/library/{{teacher}}/stage{{stage}}"),
    log:
        "logs/blockwise/distill-{teacher}-stage-{stage}.log",
    benchmark:
        "benchmarks/blockwise/distill-{teacher}-stage-{stage}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        blocks=distill_blocks,
        options=distill_options,
        library=lambda wildcards: f"{BLOCKWISE_DIR}/library/{wildcards.teacher}",
    shell:
        "blox-train distill --teacher {input.teacher} --stage {wildcards.stage}"
        " {params.blocks} {params.options} --threads {threads} --no-progress"
        " --library {params.library} --out {output.shard} > {log} 2>&1"


rule merge_blockwise:
    input:
        expand(
            f"{BLOCKWISE_DIR}/distill/{{{{teacher}}}}/stage-{{stage}}.zarr",
            stage=STAGES,
        ),
    output:
        directory(f"{BLOCKWISE_DIR}/{{teacher}}.zarr"),
    log:
        "logs/blockwise/merge-{teacher}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        partial=lambda wildcards: "--allow-partial" if BLOCKS == "students" else "",
    shell:
        "blox-space merge {input} {params.partial} --overwrite --out {output} > {log} 2>&1"


rule finetune_bucket:
    input:
        teacher=f"{BLOCKWISE_DIR}/teachers/{{teacher}}",
        blockwise=f"{BLOCKWISE_DIR}/{{teacher}}.zarr",
        selection=SELECTION,
    output:
        directory("results/finetune/{teacher}/ft{ft}/bucket-{bucket}.zarr"),
    log:
        "logs/finetune/{teacher}/ft{ft}/bucket-{bucket}.log",
    benchmark:
        "benchmarks/finetune/{teacher}/ft{ft}/bucket-{bucket}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        bucket=student_bucket_of,
        options=finetune_options,
        library=lambda wildcards: f"{BLOCKWISE_DIR}/library/{wildcards.teacher}",
    shell:
        "blox-train finetune --teacher {input.teacher} --library {params.library}"
        " --models-from {input.selection} --bucket-of {params.bucket} --epochs {wildcards.ft}"
        " {params.options} --threads {threads} --no-progress --out {output} > {log} 2>&1"


rule merge_finetune:
    input:
        finetune_shards,
    output:
        directory("results/finetune/{teacher}-ft{ft}.zarr"),
    log:
        "logs/finetune/merge-{teacher}-ft{ft}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "blox-space merge {input} --overwrite --out {output} > {log} 2>&1"
