# Latency per device: the per-block lookup table (one store per device) and its validation
# against end-to-end measurements of a seeded sample of models (blox-hw). One thread: two
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
