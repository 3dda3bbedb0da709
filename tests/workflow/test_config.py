"""Config validation, presets and bucket expansion, through `snakemake -n` (no job runs)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import REPO, snakemake

PRESETS = ("ci", "quick", "paper")
NUM_MODELS = 91_125


def dry_run(workdir: Path, *args: str, check: bool = True):
    return snakemake(workdir, "-n", "-p", "--cores", "2", *args, timeout=120, check=check)


def overrides(workdir: Path, text: str) -> list[str]:
    """Arguments adding a YAML file of overrides over the default preset (how users override
    nested keys: `--config` would turn nested values into strings)."""
    path = workdir / "override.yaml"
    path.write_text(text)
    return ["--configfile", str(path)]


def train_model_specs(stdout: str) -> list[str]:
    return re.findall(r"blox-train benchmark --models (\S+)", stdout)


def expand_spec(spec: str) -> list[int]:
    if "," not in spec and re.fullmatch(r"\d+:\d+", spec):
        start, stop = map(int, spec.split(":"))
        return list(range(start, stop))
    return [int(part) for part in spec.split(",")]


def schema_keys(node: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, sub in node.get("properties", {}).items():
        keys.add(prefix + name)
        keys |= schema_keys(sub, f"{prefix}{name}.")
    return keys


def test_default_preset_is_quick() -> None:
    link = REPO / "config" / "config.yaml"
    assert link.resolve() == (REPO / "config" / "quick.yaml").resolve()


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_set_every_key_and_documented(preset: str) -> None:
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    keys = schema_keys(schema)
    preset_keys = schema_keys(
        {
            "properties": {
                k: _as_schema(v)
                for k, v in yaml.safe_load((REPO / f"config/{preset}.yaml").read_text()).items()
            }
        }
    )
    # Free-form mappings (predictor parameters, predict.predictors entries) hold values, not keys.
    leaves = {key for key in keys if not _node(schema, key).get("properties")}
    preset_keys = {key for key in preset_keys if not any(key.startswith(f"{leaf}.") for leaf in leaves)}
    # Every preset spells out every key, so a preset merged over the default replaces it whole.
    assert preset_keys == keys
    readme = (REPO / "config/README.md").read_text()
    missing = sorted(key for key in keys if f"`{key}`" not in readme)
    assert not missing, f"config/README.md does not document {missing}"


def _node(schema: dict, key: str) -> dict:
    for name in key.split("."):
        schema = schema["properties"][name]
    return schema


def _as_schema(value):
    if isinstance(value, dict):
        return {"properties": {k: _as_schema(v) for k, v in value.items()}}
    return {}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_buckets_cover_models_once(workdir: Path, preset: str) -> None:
    cfg = yaml.safe_load((REPO / f"config/{preset}.yaml").read_text())["train"]
    proc = dry_run(workdir, "--configfile", f"config/{preset}.yaml")
    specs = train_model_specs(proc.stdout)
    models = [model for spec in specs for model in expand_spec(spec)]
    assert len(models) == len(set(models)), "a model is in two buckets"
    assert all(len(expand_spec(spec)) <= cfg["bucket_size"] for spec in specs)
    if cfg["models"] == "all":
        assert sorted(models) == list(range(NUM_MODELS))
    uniform = {2071 * block for block in uniform_blocks(cfg["uniform_sample"])}
    assert uniform.issubset(models) == cfg["include_uniform"] or not cfg["include_uniform"]


def uniform_blocks(count: int | None) -> list[int]:
    """The blocks of the uniform-block models train.uniform_sample selects (all 45 for null):
    drawn as blox_space draws the model spec sample:N:0."""
    if count is None:
        return list(range(45))
    return sorted(np.random.default_rng(0).choice(45, size=count, replace=False).tolist())


#: Leaves the latency stage (and its blox-hw start check, seconds per dry run) out.
NO_LATENCY = "latency: {devices: [], models: null}\n"


@pytest.mark.parametrize("count", [None, 20, 45])
def test_uniform_sample_selects_a_seeded_sample_of_the_uniform_models(workdir: Path, count) -> None:
    text = (
        f"train: {{models: [1], include_uniform: true, uniform_sample: {'null' if count is None else count}}}\n"
        + NO_LATENCY
    )
    proc = dry_run(workdir, *overrides(workdir, text))
    models = sorted(m for spec in train_model_specs(proc.stdout) for m in expand_spec(spec))
    assert models == sorted([1, *(2071 * block for block in uniform_blocks(count))])
    # without include_uniform the sample size is ignored: no uniform-block model is trained
    text = f"train: {{models: [1], include_uniform: false, uniform_sample: {count or 'null'}}}\n" + NO_LATENCY
    assert train_model_specs(dry_run(workdir, *overrides(workdir, text)).stdout) == ["1"]


def test_paper_dag_builds_fast(workdir: Path) -> None:
    """The paper preset over all 91,125 models (1,424 buckets) builds its DAG in well under 60 s."""
    start = time.perf_counter()
    proc = dry_run(workdir, "--configfile", "config/paper.yaml")
    seconds = time.perf_counter() - start
    print(f"paper preset dry run (DAG + job listing): {seconds:.1f} s")
    assert re.search(r"train_bucket\s+1424", proc.stdout), proc.stdout[-2000:]
    # every model's end-to-end latency on both devices: 356 buckets of 256 each, merged per device
    assert re.search(r"latency_profile_bucket\s+712", proc.stdout), proc.stdout[-2000:]
    assert re.search(r"latency_merge\s+2", proc.stdout), proc.stdout[-2000:]
    # the blockwise part: M1..M5, each distilled per stage and fine-tuned at FT10/50/200
    # the predict part: gcn, brp, DONNA at 10 distillation epochs, LANA at 3 snapshots, the proxies
    # ridge; the proxies of the 1,000 students in 16 buckets of 64; the surrogate's fit and complete
    predict = [("predict_evaluate", 16), ("proxies_bucket", 16), ("predict_fit", 1), ("predict_complete", 1)]
    # the search part: every algorithm on the full benchmark store (DARTS-PT on its supernet), the
    # Pareto-aware RE's hypervolume
    search = [("search_run", 9), ("search_trajectories", 9), ("search_summary", 1), ("search_pareto", 1)]
    for rule, count in [
        *search,
        ("teacher", 5),
        ("distill", 15),
        ("merge_blockwise", 5),
        ("merge_finetune", 15),
        *predict,
    ]:
        assert re.search(rf"\b{rule}\s+{count}\b", proc.stdout), (rule, proc.stdout[-2000:])
    assert seconds < 60


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tarin: {}", "Additional properties are not allowed ('tarin' was unexpected)"),
        ("train: {bucket_sise: 3}", "Additional properties are not allowed ('bucket_sise' was unexpected)"),
        ("train: {bucket_size: 0}", "0 is less than the minimum of 1"),
        ("train: {uniform_sample: 0}", "is not valid under any of the given schemas"),
        ("train: {uniform_sample: 46}", "is not valid under any of the given schemas"),
        # the value of a model spec is read by blox_space.parse_models, not by a schema regex
        ("train: {models: some}", "config error: train.models: cannot read model spec 'some'"),
        ("train: {epochs: '5'}", "is not valid under any of the given schemas"),
        ("latency: {protocol: 'no such'}", "'no such' does not match"),
        ("benchmark: {source: import-legacy}", "benchmark.legacy_dir: is required"),
        ("train: {models: '10:5'}", "config error: train.models: model spec '10:5' selects no models"),
        ("latency: {models: 'sample:0:1'}", "config error: latency.models:"),
        ("latency: {bucket_size: 0}", "0 is less than the minimum of 1"),
        ("train: {models: [91125]}", "config error: train.models: model indices must be in 0..91124"),
        ("train: {models: []}", "config error: train.models: model spec [] selects no models"),
        ("train: {models: [1.5]}", "is not valid under any of the given schemas"),
        ("latency: {models: 12}", "is not valid under any of the given schemas"),
        ("latency: {models: []}", "config error: latency.models: model spec [] selects no models"),
        ("train: {device: 'cuda:x'}", "'cuda:x' does not match"),
        ("latency: {devices: ['cpu:x']}", "'cpu:x' does not match"),
        ("blockwise: {distill_epochs: 2, snapshots: [1, 3]}", "config error: blockwise.snapshots:"),
        (
            "blockwise: {distill_epochs: 10, snapshots: [1, 5, 10], distill_epoch: 4}",
            "config error: blockwise.distill_epoch:",
        ),
        ("blockwise: {alpha: 1.5}", "1.5 is greater than the maximum of 1"),
        ("blockwise: {temperature: 0}", "less than or equal to the minimum of 0"),
        ("blockwise: {blocks: some}", "'some' is not one of ['all', 'students']"),
        ("blockwise: {ft_epochs: []}", "should be non-empty"),
        ("blockwise: {teachers: {M1: rank:1, M2: rank:1}}", "config error: blockwise.teachers:"),
        ("predict: {target: finetuned}", "'finetuned' is not one of ['benchmark', 'finetune']"),
        ("predict: {teacher: M3}", "config error: predict.teacher: 'M3' is not a teacher"),
        ("predict: {ft_epochs: 7}", "config error: predict.ft_epochs: 7 is not a fine-tuning length"),
        ("predict: {train_sizes: [0]}", "0 is less than the minimum of 1"),
        ("predict: {predictors: [{predictor: gcn}]}", "'name' is a required property"),
        ("predict: {predictors: [{name: a, param: {}}]}", "('param' was unexpected)"),
        (
            "predict: {predictors: [{name: a}, {name: a}]}",
            "config error: predict.predictors: the name 'a' appears twice",
        ),
        (
            "predict: {surrogate: {predictor: nope}}",
            "config error: predict.surrogate.predictor: 'nope' is not",
        ),
        (
            "predict: {surrogate: {predictor: donna}}",
            "config error: predict.surrogate.predictor: donna (donna)",
        ),
        ("predict: {surrogate: {ensemble: 0}}", "0 is less than the minimum of 1"),
        ("predict: {proxies: null}", "config error: predict.predictors: synflow: the proxy predictor"),
        ("predict: {proxies: {models: 'sample:0:0'}}", "config error: predict.proxies.models:"),
        (
            "blockwise: {teachers: []}\npredict: {target: finetune}",
            "config error: predict.target: finetune needs",
        ),
        ("search: {evaluator: tabular}", "'tabular' is not one of ['benchmark', 'surrogate', 'live']"),
        ("search: {budget_fte: 0}", "less than or equal to the minimum of 0"),
        ("search: {seeds: []}", "should be non-empty"),
        ("search: {seed_policy: median}", "is not valid under any of the given schemas"),
        ("search: {target: '76.6'}", "is not of type 'number', 'null'"),
        ("search: {max_evaluations: 0}", "is not valid under any of the given schemas"),
        ("search: {algorithms: [{algorithm: re}]}", "'name' is a required property"),
        ("search: {algorithms: [{name: re, param: {}}]}", "('param' was unexpected)"),
        (
            "search: {algorithms: [{name: re}, {name: re}]}",
            "config error: search.algorithms: the name 're' appears twice",
        ),
        (
            "search: {algorithms: [{name: mo, algorithm: pareto_re, latency_device: cuda}]}",
            "config error: search.algorithms: mo: latency_device 'cuda' is not measured; latency.devices is cpu",
        ),
        ("search: {live: {modles: all}}", "('modles' was unexpected)"),
        (
            "search: {evaluator: live, algorithms: [{name: random}], live: {models: 'sample:0:0'}}",
            "config error: search.live.models:",
        ),
    ],
)
def test_bad_config_fails_at_start(workdir: Path, override: str, message: str) -> None:
    proc = dry_run(workdir, *overrides(workdir, override), check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_model_specs(workdir: Path) -> None:
    args = overrides(workdir, "train: {models: '100:110', include_uniform: false, bucket_size: 4}")
    assert sorted(train_model_specs(dry_run(workdir, *args).stdout)) == ["100:104", "104:108", "108:110"]
    args = overrides(workdir, "train: {models: [5, 3, 900], include_uniform: false, bucket_size: 2}")
    proc = dry_run(workdir, *args)
    assert sorted(train_model_specs(proc.stdout)) == ["3,5", "900"]


def test_benchmark_source_is_swappable(workdir: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    proc = dry_run(
        workdir, *overrides(workdir, f"benchmark: {{source: import-legacy, legacy_dir: {legacy}}}")
    )
    assert "blox-space import-legacy" in proc.stdout
    assert "blox-train benchmark" not in proc.stdout


def config_error_lines(proc) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "config error:" in line]


def test_latency_models_unknown_word_names_what_is_allowed(workdir: Path) -> None:
    proc = dry_run(workdir, *overrides(workdir, "latency: {models: trainedd}"), check=False)
    assert proc.returncode != 0
    [line] = config_error_lines(proc)
    assert line.startswith("config error: latency.models: cannot read model spec 'trainedd'")
    assert line.endswith('; or "trained" (the models the benchmark trains) or null (none)')


LATENCY_MODELS = [
    ("trained", ["0:3", "3:5"]),  # the trained models, in latency buckets of 3
    ("'10:14'", ["10:13", "13"]),
    ("'7,5'", ["5,7"]),
    ("[9, 2, 9]", ["2,9"]),
    ("'sample:2:0'", None),  # two models, whatever the seeded draw gives
    ("null", []),
]


@pytest.mark.parametrize(("spec", "buckets"), LATENCY_MODELS)
def test_latency_models_accepts_what_the_readme_says(workdir: Path, spec: str, buckets) -> None:
    """latency.models: "trained", any model spec (string or list), or null (config/README.md)."""
    args = overrides(
        workdir,
        "train: {models: '0:5', include_uniform: false}\n"
        f"latency: {{models: {spec}, bucket_size: 3, validate_models: 0}}\n",
    )
    specs = re.findall(r"blox-hw profile --models (\S+)", dry_run(workdir, *args).stdout)
    if buckets is None:
        assert len(specs) == 1 and len(expand_spec(specs[0])) == 2
    else:
        assert sorted(specs) == buckets


def test_unknown_protocol_is_one_config_error_naming_blox_hw_protocols(workdir: Path) -> None:
    """The protocol is checked against blox-hw's registry (its CLI) before any job runs."""
    from blox_hw import list_protocols

    proc = dry_run(workdir, *overrides(workdir, "latency: {protocol: fast}"), check=False)
    assert proc.returncode != 0
    assert config_error_lines(proc) == [
        f"config error: latency.protocol: unknown protocol 'fast'; blox-hw knows {', '.join(list_protocols())}"
    ]
    assert "rule latency_blocks" not in proc.stdout  # stopped before the DAG


def test_unknown_device_is_one_config_error_naming_blox_hw_devices(workdir: Path) -> None:
    from blox_hw import list_devices

    proc = dry_run(workdir, *overrides(workdir, "latency: {devices: [cpu, 'tpu:1']}"), check=False)
    assert proc.returncode != 0
    assert config_error_lines(proc) == [
        f"config error: latency.devices: unknown device 'tpu:1'; blox-hw knows {', '.join(list_devices())}"
        " (KIND or KIND:INDEX, e.g. cuda:1)"
    ]


def test_device_names_are_not_a_copied_list(workdir: Path) -> None:
    """train.device is a torch device string checked by blox-train, so the schema takes any
    TYPE[:INDEX]; a device index in latency.devices goes through to blox-hw."""
    args = overrides(workdir, "train: {device: 'mps'}\nlatency: {devices: ['cpu:0']}\n")
    proc = dry_run(workdir, *args)
    assert "--device mps" in proc.stdout
    assert "blox-hw blocks --device cpu:0" in proc.stdout


def test_schema_copies_no_registry_or_grammar() -> None:
    """Names and model specs are checked by their owners (STYLE §4), not by enums or regexes."""
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert "pattern" not in yaml.safe_dump(schema["$defs"]["model_spec"])
    latency = schema["properties"]["latency"]["properties"]
    train = schema["properties"]["train"]["properties"]
    for node in (latency["protocol"], latency["devices"]["items"], train["device"], train["recipe"]):
        assert "enum" not in node and node["type"] == "string"


@pytest.mark.parametrize(
    ("teachers", "names"),
    [
        ("[rank:1, rank:-1]", ["M1", "M5"]),  # the paper's selectors keep the paper's names
        ("[rank:1, rank:3]", ["M1", "T2"]),
        ("{best: rank:1, worst: rank:-1}", ["best", "worst"]),
    ],
)
def test_teachers_are_named_like_the_paper(workdir: Path, teachers: str, names: list[str]) -> None:
    args = overrides(workdir, f"blockwise: {{teachers: {teachers}}}\n" + NO_LATENCY)
    proc = dry_run(workdir, *args)
    assert sorted(set(re.findall(r"blox-train teacher .*?--name (\S+) ", proc.stdout))) == sorted(names)
    assert f"--names {','.join(names)}" in proc.stdout


def test_no_teachers_skip_the_blockwise_stage(workdir: Path) -> None:
    # DONNA, LANA and the finetune target need a teacher: the predictors then learn the benchmark
    predict = "predict: {target: benchmark, predictors: [{name: gcn}], proxies: null}\n"
    proc = dry_run(workdir, *overrides(workdir, "blockwise: {teachers: []}\n" + predict + NO_LATENCY))
    for rule in ("blockwise_select", "teacher", "distill", "blockwise_figures"):
        assert not re.search(rf"^(rule|checkpoint) {rule}:", proc.stdout, re.MULTILINE), rule
    assert "rule report:" in proc.stdout


def test_predict_stage_runs_each_predictor_and_donna_per_distillation_epoch(workdir: Path) -> None:
    proc = dry_run(workdir, *overrides(workdir, NO_LATENCY))
    names = re.findall(r"blox-predict evaluate \S+ .*--name (\S+)", proc.stdout)
    assert sorted(names) == ["brp", "donna-e1", "donna-e2", "gcn", "lana-s1", "lana-s2", "synflow"]
    assert "--signatures results/blockwise/M1.zarr --param order=1 --param epoch=2" in proc.stdout
    assert "--param 'proxies=\"results/predict/proxies.zarr\"'" in proc.stdout
    assert "blox-predict fit results/finetune/M1-ft2.zarr --predictor gcn" in proc.stdout
    assert "blox-predict complete results/predict/ensemble" in proc.stdout
    assert len(re.findall(r"blox-predict proxies --models-from", proc.stdout)) == 2


def test_predict_stage_can_be_switched_off(workdir: Path) -> None:
    text = "predict: {predictors: [], surrogate: null, proxies: null}\n" + NO_LATENCY
    proc = dry_run(workdir, *overrides(workdir, text))
    assert "blox-predict" not in proc.stdout and "rule report:" in proc.stdout
    text = (
        "predict: {target: benchmark, predictors: [{name: gcn}], surrogate: null, proxies: null}\n"
        + NO_LATENCY
    )
    proc = dry_run(workdir, *overrides(workdir, text))
    assert "blox-predict evaluate results/benchmark/quick.zarr --predictor gcn" in proc.stdout


def search_commands(stdout: str) -> dict[str, str]:
    """{entry: its blox-search run command} of a dry run."""
    return {
        match[1]: match[0]
        for match in re.findall(r"(blox-search run .*--out results/search/(\S+)\.zarr)", stdout)
    }


def test_search_stage_runs_each_entry_on_the_surrogate_completed_benchmark(workdir: Path) -> None:
    proc = dry_run(workdir, *overrides(workdir, NO_LATENCY + "search: {algorithms: [{name: random}, "
                   "{name: re2, algorithm: re, params: {population_size: 4}}]}\n"))  # fmt: skip
    runs = search_commands(proc.stdout)
    assert sorted(runs) == ["random", "re2"]
    # quick's surrogate completes the finetune store, so the search stage fits its own of the benchmark
    assert "blox-predict fit results/benchmark/quick.zarr --predictor gcn" in proc.stdout
    surrogate = "results/search/surrogate/surrogate.zarr"
    assert f"--out {surrogate}" in proc.stdout
    assert runs["re2"].startswith(f"blox-search run re {surrogate} --budget-fte 40 --seeds 0,1,2,3,4")
    assert (
        "--set population_size=4" in runs["re2"] and "--fte-store results/benchmark/quick.zarr" in runs["re2"]
    )
    assert (
        "blox-search summary results/search/random.zarr results/search/re2.zarr --budget-fte 40 --json"
        in proc.stdout
    )
    assert (
        "blox-search trajectories results/search/re2.zarr --csv --out results/search/re2.csv" in proc.stdout
    )
    assert "blox-search pareto" not in proc.stdout and "rule search_figures:" in proc.stdout


def test_search_on_the_benchmark_and_the_surrogate_fallback(workdir: Path) -> None:
    def text(kind: str) -> str:
        return NO_LATENCY + f"search: {{algorithms: [{{name: random}}], evaluator: {kind}, target: 70.5}}\n"

    runs = search_commands(dry_run(workdir, *overrides(workdir, text("benchmark"))).stdout)
    assert runs["random"].startswith("blox-search run random results/benchmark/quick.zarr")
    # no surrogate in the predict stage: the searches search the benchmark, and a warning says so
    off = "predict: {predictors: [], surrogate: null, proxies: null}\n"
    proc = dry_run(workdir, *overrides(workdir, off + text("surrogate")))
    assert search_commands(proc.stdout)["random"].startswith(
        "blox-search run random results/benchmark/quick.zarr"
    )
    assert "predict.surrogate is null: the searches search the benchmark store" in proc.stdout + proc.stderr
    assert "--budget-fte 40 --target 70.5 --json" in proc.stdout
    # the predict stage's surrogate of the benchmark is searched as it is
    bench = "predict: {target: benchmark, predictors: [{name: gcn}], proxies: null, surrogate: {predictor: gcn}}\n"
    proc = dry_run(workdir, *overrides(workdir, bench + text("surrogate")))
    assert search_commands(proc.stdout)["random"].startswith(
        "blox-search run random results/predict/surrogate.zarr"
    )
    assert "results/search/surrogate" not in proc.stdout


def test_search_multi_objective_entries_get_latency_and_the_pareto_step(workdir: Path) -> None:
    text = "search: {algorithms: [{name: random}, {name: mo, algorithm: pareto_re, latency_device: cpu}]}\n"
    proc = dry_run(workdir, *overrides(workdir, text))
    runs = search_commands(proc.stdout)
    assert "--latency" not in runs["random"]
    # the surrogate's candidates are all models: the lookup table, not the 36 measured ones
    assert "--latency results/latency/cpu.zarr --latency-device" in runs["mo"]
    assert "results/latency/models/cpu.zarr" not in runs["mo"]
    assert (
        "blox-search pareto results/search/mo.zarr --latency results/latency/cpu.zarr --json" in proc.stdout
    )


def test_search_stage_can_be_switched_off(workdir: Path) -> None:
    # both search stages off (the blockwise searches call blox-search too)
    text = NO_LATENCY + "search: {algorithms: []}\nblockwise_search: {searches: []}\n"
    proc = dry_run(workdir, *overrides(workdir, text))
    assert "blox-search" not in proc.stdout and "rule search_figures:" not in proc.stdout
    assert "rule report:" in proc.stdout


def test_search_live_trains_through_blox_train(workdir: Path) -> None:
    text = NO_LATENCY + "search: {algorithms: [{name: random}], evaluator: live, live: {models: '0:50'}}\n"
    run = search_commands(dry_run(workdir, *overrides(workdir, text)).stdout)["random"]
    assert run.startswith("blox-search run random results/search/live/random.zarr")
    assert "--evaluator live --recipe quick --models 0:50 --device cpu" in run and "--seed-policy" not in run


def test_darts_pt_entry_trains_its_supernet_live_and_reuses_the_benchmark(workdir: Path) -> None:
    text = NO_LATENCY + (
        "search: {algorithms: [{name: random}, {name: dpt, algorithm: darts_pt, params: {epochs: 2}, seeds: [3]}]}\n"
    )
    proc = dry_run(workdir, *overrides(workdir, text))
    runs = search_commands(proc.stdout)
    # whatever search.evaluator says: a live evaluator on the benchmark's recipe, every model a
    # candidate, the trained benchmark's runs reused; its own seeds
    assert runs["dpt"].startswith(
        "blox-search run darts_pt results/search/live/dpt.zarr --budget-fte 40 --seeds 3 "
    )
    assert "--evaluator live --recipe quick --device cpu --reuse results/benchmark/quick.zarr" in runs["dpt"]
    assert (
        "--set epochs=2" in runs["dpt"]
        and "--models" not in runs["dpt"]
        and "--seed-policy" not in runs["dpt"]
    )
    assert runs["random"].startswith("blox-search run random results/search/surrogate/surrogate.zarr")
    assert "--seeds 0,1,2,3,4" in runs["random"]
    # Table 2 and Figure 5 take it in like the other entries
    assert "results/search/random.zarr results/search/dpt.zarr --budget-fte 40 --json" in proc.stdout
    bad = "search: {algorithms: [{name: dpt, algorithm: darts_pt, latency_device: cpu}]}\n"
    proc = dry_run(workdir, *overrides(workdir, bad), check=False)
    assert (
        proc.returncode != 0 and "a one-shot algorithm takes no latency_device" in proc.stdout + proc.stderr
    )
