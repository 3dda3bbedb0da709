# Blockwise NAS (SPEC §7, §7a; paper Figures 12-13 and Table 2's blockwise rows), after the
# finetune and blockwise stores of every teacher exist: blockwise_search_run (one job per
# blockwise_search.searches entry: blox-search run --evaluator blockwise, the normal-training
# benchmark plus every teacher's finetune and blockwise stores) → blockwise_search_trajectories
# (one CSV per entry), blockwise_search_summary (Table 2's numbers), blockwise_search_pareto
# (the fronts DONNA and LANA find on a latency device vs the true front).
rule blockwise_search_run:
    input:
        unpack(bsearch_run_inputs),
    output:
        directory(f"{BSEARCH_DIR}/{{entry}}.zarr"),
    log:
        "logs/blockwise_search/run-{entry}.log",
    benchmark:
        "benchmarks/blockwise_search/run-{entry}.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    params:
        algorithm=lambda wildcards: BSEARCHES[wildcards.entry]["algorithm"],
        options=bsearch_options,
    shell:
        "OMP_NUM_THREADS={threads} blox-search run {params.algorithm} {input.benchmark}"
        " --finetune {input.finetune} {params.options} --no-progress --out {output} > {log} 2>&1"


rule blockwise_search_trajectories:
    input:
        f"{BSEARCH_DIR}/{{entry}}.zarr",
    output:
        f"{BSEARCH_DIR}/{{entry}}.csv",
    log:
        "logs/blockwise_search/trajectories-{entry}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "blox-search trajectories {input} --csv --out {output} > {log} 2>&1"


rule blockwise_search_summary:
    input:
        bsearch_runs,
    output:
        f"{BSEARCH_DIR}/summary.json",
    log:
        "logs/blockwise_search/summary.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        options=bsearch_summary_options,
    shell:
        "blox-search summary {input} {params.options} --json > {output} 2> {log}"


rule blockwise_search_pareto:
    input:
        unpack(bsearch_pareto_inputs),
    output:
        f"{BSEARCH_DIR}/pareto.json",
    log:
        "logs/blockwise_search/pareto.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "blox-search pareto {input.runs} --latency {input.latency} --json > {output} 2> {log}"
