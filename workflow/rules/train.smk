# benchmark.source = "train": train the selected models in buckets, one shard store per job,
# then merge the shards into results/benchmark/{recipe}.zarr on the head node.
rule train_bucket:
    output:
        directory("results/train/{recipe}/bucket-{bucket}.zarr"),
    log:
        "logs/train/{recipe}/bucket-{bucket}.log",
    benchmark:
        "benchmarks/train/{recipe}/bucket-{bucket}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1  # one torch thread per job; parallelism comes from running buckets side by side
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    params:
        models=bucket_models,
        overrides=train_overrides,
        bucket=bucket_of,
    shell:
        "blox-train benchmark --models {params.models} --bucket {params.bucket}"
        " --recipe {wildcards.recipe} {params.overrides} --threads {threads} --no-progress"
        " --out {output} > {log} 2>&1"


rule merge_benchmark:
    input:
        train_shards,
    output:
        directory("results/benchmark/{recipe}.zarr"),
    log:
        "logs/merge/{recipe}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        expect=expected_models,
    shell:
        "blox-space merge {input} --expect {params.expect} --overwrite --out {output} > {log} 2>&1"
