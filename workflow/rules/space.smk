# The space store: every block and every model with hashes and analytic cost (blox-space).
rule space:
    output:
        directory("results/space.zarr"),
    log:
        "logs/space/enumerate.log",
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "blox-space enumerate --out {output} > {log} 2>&1"
