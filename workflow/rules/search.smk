# Conventional NAS (SPEC §7, §7a; paper Figure 5, Table 2's conventional rows), after the store
# it searches exists: search_surrogate_fit → search_surrogate_complete (only when the searches
# need a surrogate of the benchmark the predict stage does not make); search_run (one job per
# search.algorithms entry, one search store each) → search_trajectories (one CSV per entry),
# search_summary (Table 2's numbers), search_pareto (hypervolumes of the multi-objective entries).
rule search_surrogate_fit:
    input:
        BENCHMARK_STORE,
    output:
        directory(f"{SEARCH_DIR}/surrogate/ensemble"),
    log:
        "logs/search/surrogate-fit.log",
    benchmark:
        "benchmarks/search/surrogate-fit.tsv"
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    params:
        options=search_surrogate_options,
    shell:
        "blox-predict fit {input} {params.options} --threads {threads}"
        " --overwrite --out {output} > {log} 2>&1"


rule search_surrogate_complete:
    input:
        ensemble=f"{SEARCH_DIR}/surrogate/ensemble",
        target=BENCHMARK_STORE,
    output:
        directory(SEARCH_SURROGATE),
    log:
        "logs/search/surrogate-complete.log",
    benchmark:
        "benchmarks/search/surrogate-complete.tsv"
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


if SEARCH_EVALUATOR == "live":

    # A live search trains every model it evaluates and records the runs in its own benchmark
    # shard store, which a rerun resumes from.
    rule search_run:
        input:
            unpack(search_run_inputs),
        output:
            run=directory(f"{SEARCH_DIR}/{{entry}}.zarr"),
            live=directory(f"{SEARCH_DIR}/live/{{entry}}.zarr"),
        log:
            "logs/search/run-{entry}.log",
        benchmark:
            "benchmarks/search/run-{entry}.tsv"
        conda:
            "../envs/blox.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=720,
            gpu=search_gpus,
        params:
            algorithm=search_algorithm,
            options=search_options,
        shell:
            "OMP_NUM_THREADS={threads} blox-search run {params.algorithm} {output.live} {params.options}"
            " --threads {threads} --out {output.run} > {log} 2>&1"

else:

    rule search_run:
        input:
            unpack(search_run_inputs),
        output:
            directory(f"{SEARCH_DIR}/{{entry}}.zarr"),
        log:
            "logs/search/run-{entry}.log",
        benchmark:
            "benchmarks/search/run-{entry}.tsv"
        conda:
            "../envs/blox.yaml"
        threads: 1  # also BRP-NAS's predictor: OMP_NUM_THREADS sets torch's threads
        resources:
            mem_mb=4000,
            runtime=search_runtime,
            gpu=search_gpus,
        params:
            algorithm=search_algorithm,
            store=search_store_arg,  # a one-shot entry (DARTS-PT): its live store
            options=search_options,
        shell:
            "OMP_NUM_THREADS={threads} blox-search run {params.algorithm} {params.store} {params.options}"
            " --out {output} > {log} 2>&1"


rule search_trajectories:
    input:
        f"{SEARCH_DIR}/{{entry}}.zarr",
    output:
        f"{SEARCH_DIR}/{{entry}}.csv",
    log:
        "logs/search/trajectories-{entry}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "blox-search trajectories {input} --csv --out {output} > {log} 2>&1"


rule search_summary:
    input:
        search_runs,
    output:
        f"{SEARCH_DIR}/summary.json",
    log:
        "logs/search/summary.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        options=summary_options,
    shell:
        "blox-search summary {input} {params.options} --json > {output} 2> {log}"


rule search_pareto:
    input:
        unpack(pareto_inputs),
    output:
        f"{SEARCH_DIR}/pareto.json",
    log:
        "logs/search/pareto.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "blox-search pareto {input.runs} --latency {input.latency} --json > {output} 2> {log}"
