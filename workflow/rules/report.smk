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
