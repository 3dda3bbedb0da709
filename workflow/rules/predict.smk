# Predictors (SPEC §6, paper Figure 10), after the target store exists: predict_evaluate (one job
# per predictor entry: DONNA per distillation epoch, LANA per snapshot) → Figure 10; predict_fit
# (an ensemble on the target) → predict_complete (the surrogate store of all 91,125 models);
# proxies_bucket (zero-cost proxies, slice I of N of the models) → merge_proxies.
rule predict_evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        f"{PREDICT_DIR}/evaluate/{{entry}}.csv",
    log:
        "logs/predict/evaluate-{entry}.log",
    benchmark:
        "benchmarks/predict/evaluate-{entry}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        options=evaluate_options,
    shell:
        "blox-predict evaluate {input.target} {params.options} --threads {threads}"
        " --drop-large-sizes --name {wildcards.entry} --out {output} > {log} 2>&1"


rule predict_fit:
    input:
        predict_target_input,
    output:
        directory(f"{PREDICT_DIR}/ensemble"),
    log:
        "logs/predict/fit.log",
    benchmark:
        "benchmarks/predict/fit.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        options=surrogate_options,
    shell:
        "blox-predict fit {input} {params.options} --threads {threads}"
        " --overwrite --out {output} > {log} 2>&1"


rule predict_complete:
    input:
        ensemble=f"{PREDICT_DIR}/ensemble",
        target=predict_target_input,
    output:
        directory(SURROGATE_STORE),
    log:
        "logs/predict/complete.log",
    benchmark:
        "benchmarks/predict/complete.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=0,
    shell:
        "blox-predict complete {input.ensemble} --store {input.target}"
        " --threads {threads} --overwrite --out {output} > {log} 2>&1"


rule proxies_bucket:
    input:
        proxies_inputs,
    output:
        directory(f"{PREDICT_DIR}/proxies/bucket-{{bucket}}.zarr"),
    log:
        "logs/predict/proxies-{bucket}.log",
    benchmark:
        "benchmarks/predict/proxies-{bucket}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    params:
        options=proxies_options,
    shell:
        "blox-predict proxies {params.options} --threads {threads} --no-progress"
        " --overwrite --out {output} > {log} 2>&1"


rule merge_proxies:
    input:
        proxy_shards,
    output:
        directory(PROXIES_STORE),
    log:
        "logs/predict/merge-proxies.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "blox-space merge {input} --overwrite --out {output} > {log} 2>&1"
