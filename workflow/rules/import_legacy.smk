# benchmark.source = "import-legacy": convert the released Blox files into the benchmark store.
rule import_legacy:
    input:
        config["benchmark"]["legacy_dir"],
    output:
        directory("results/benchmark/{recipe}.zarr"),
    log:
        "logs/import_legacy/{recipe}.log",
    localrule: True
    conda:
        "../envs/blox.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "blox-space import-legacy {input} --out {output} > {log} 2>&1"
