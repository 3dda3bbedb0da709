# The report: benchmark summary, Figure 4 and latency vs accuracy, as PNGs plus one HTML page.
rule report:
    input:
        unpack(report_inputs),
    output:
        html=f"{REPORT_DIR}/index.html",
        summary=report(
            f"{REPORT_DIR}/summary.png",
            caption="../report/summary.rst",
            category="Benchmark",
        ),
        figure4=report(
            f"{REPORT_DIR}/figure4.png",
            caption="../report/figure4.rst",
            category="Benchmark",
        ),
        latency=report(
            f"{REPORT_DIR}/latency.png",
            caption="../report/latency.rst",
            category="Latency",
        ),
    log:
        "logs/report/report.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        preset=config["preset"],
        recipe=RECIPE,
        source=config["benchmark"]["source"],
        devices=DEVICES,
    script:
        "../scripts/report.py"


# Figures 7, 8, 9 and 11 of the blockwise experiments (only when teachers are configured), and
# the numbers behind them as JSON for the page.
rule blockwise_figures:
    input:
        unpack(blockwise_figure_inputs),
    output:
        json=f"{REPORT_DIR}/blockwise.json",
        figure7=report(
            f"{REPORT_DIR}/figure7.png",
            caption="../report/figure7.rst",
            category="Blockwise",
        ),
        figure8=report(
            f"{REPORT_DIR}/figure8.png",
            caption="../report/figure8.rst",
            category="Blockwise",
        ),
        figure9=report(
            f"{REPORT_DIR}/figure9.png",
            caption="../report/figure9.rst",
            category="Blockwise",
        ),
        figure11=report(
            f"{REPORT_DIR}/figure11.png",
            caption="../report/figure11.rst",
            category="Blockwise",
        ),
    log:
        "logs/report/blockwise.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        preset=config["preset"],
        teachers=list(TEACHERS),
        ft=FT_EPOCHS,
    script:
        "../scripts/blockwise_figures.py"


# Figure 10 (Spearman rho of each predictor against the number of training models, intervals over
# seeds; DONNA per distillation epoch), the proxies' rho and the surrogate's held-out error, as a
# PNG and the numbers as JSON for the page.
rule predict_figures:
    input:
        unpack(predict_figure_inputs),
    output:
        json=f"{REPORT_DIR}/predict.json",
        figure10=report(
            f"{REPORT_DIR}/figure10.png",
            caption="../report/figure10.rst",
            category="Predictors",
        ),
    log:
        "logs/report/predict.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        preset=config["preset"],
        metric=PREDICT["metric"],
    script:
        "../scripts/predict_figures.py"


# Figure 5 (incumbent test accuracy vs search cost in FTE, mean ± std over seeds per algorithm,
# log-x), Table 2's conventional rows as CSV and the multi-objective hypervolumes, with the
# numbers as JSON for the page.
rule search_figures:
    input:
        unpack(search_figure_inputs),
    output:
        json=f"{REPORT_DIR}/search.json",
        table2=report(
            f"{REPORT_DIR}/table2.csv",
            caption="../report/table2.rst",
            category="Search",
        ),
        figure5=report(
            f"{REPORT_DIR}/figure5.png",
            caption="../report/figure5.rst",
            category="Search",
        ),
    log:
        "logs/report/search.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        preset=config["preset"],
        entries=list(SEARCHES),
        pareto_entries=pareto_entries(),
        evaluator=SEARCH_EVALUATOR,
        budget_fte=SEARCH["budget_fte"],
    script:
        "../scripts/search_figures.py"


# Figures 12 (short FT then long-FT retraining vs the long-FT search, good teacher, the phase
# switch marked) and 13 (the bad teacher retrained three ways), Table 2 with its blockwise rows
# as CSV, and the DONNA / LANA fronts on each latency device, with the numbers as JSON.
rule blockwise_search_figures:
    input:
        unpack(bsearch_figure_inputs),
    output:
        json=f"{REPORT_DIR}/blockwise_search.json",
        table2=report(
            f"{REPORT_DIR}/table2_blockwise.csv",
            caption="../report/table2_blockwise.rst",
            category="Search",
        ),
        figure12=report(
            f"{REPORT_DIR}/figure12.png",
            caption="../report/figure12.rst",
            category="Search",
        ),
        figure13=report(
            f"{REPORT_DIR}/figure13.png",
            caption="../report/figure13.rst",
            category="Search",
        ),
    log:
        "logs/report/blockwise_search.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        preset=config["preset"],
        entries=bsearch_entries_meta(),
        pareto_entries=bsearch_pareto_entries(),
        budget_fte=bsearch_budget(),
        phase_one_fte=BSEARCH["phase_one_fte"],
        teachers=TEACHERS,
    script:
        "../scripts/blockwise_search_figures.py"
