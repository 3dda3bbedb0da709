# Latency per device: the per-block lookup table (one store per device), its validation
# against end-to-end measurements of a seeded sample of models, and the end-to-end latency of
# the models latency.models names, measured in buckets and merged into one store per device
# (blox-hw). One thread: two
# torch threads on a busy 2-core machine measure contention, not the model (profiles may raise it).
rule latency_blocks:
    output:
        directory("results/latency/{device}.zarr"),
    log:
        "logs/latency/{device}.log",
    benchmark:
        "benchmarks/latency/{device}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=latency_gpus,
    params:
        overrides=latency_overrides,
    shell:
        "blox-hw blocks --device {wildcards.device} {params.overrides}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule latency_validate:
    input:
        "results/latency/{device}.zarr",
    output:
        "results/latency/{device}-validation.json",
    log:
        "logs/latency/{device}-validation.log",
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=latency_gpus,
    params:
        models=latency_validate_models,
    shell:
        "blox-hw validate {input} --models {params.models} --threads {threads} --json"
        " > {output}.part 2> {log}"
        " && mv {output}.part {output}"


rule latency_profile_bucket:
    output:
        directory("results/latency/models/{device}/bucket-{bucket}.zarr"),
    log:
        "logs/latency/models/{device}/bucket-{bucket}.log",
    benchmark:
        "benchmarks/latency/models/{device}/bucket-{bucket}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,  # minutes: the full protocol takes ~15 s per model on a CPU
        gpu=latency_gpus,
    params:
        models=latency_bucket_models,
        overrides=latency_overrides,
    shell:
        "blox-hw profile --models {params.models} --device {wildcards.device} {params.overrides}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule latency_merge:
    input:
        latency_shards,
    output:
        directory("results/latency/models/{device}.zarr"),
    log:
        "logs/latency/models/{device}-merge.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        expect=latency_expected,
    shell:
        "blox-hw merge {input} --expect {params.expect} --overwrite --out {output} > {log} 2>&1"
