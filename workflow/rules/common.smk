# Shared helpers of the workflow: config validation, model selection, bucket expansion and the
# named input/param functions the rules call. Pure Python over blox_space (torch-free); names
# owned by blox-hw are asked of its command line, never imported (blox-hw imports torch).
import json
import shlex
import shutil
import subprocess

import numpy as np
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

import blox_space as bs

validate(config, "../schemas/config.schema.yaml")


wildcard_constraints:
    recipe=r"[A-Za-z0-9_.-]+",
    bucket=r"\d{5}",
    device=r"[A-Za-z0-9_.:-]+",
    teacher=r"[A-Za-z0-9_-]+",
    stage=r"[0-2]",
    ft=r"\d+",
    entry=r"[A-Za-z0-9_-]+",


def config_error(key, message):
    """A WorkflowError naming the config key at fault and what is allowed."""
    return WorkflowError(f"config error: {key}: {message}")


def select_models(spec, key="train.models", also=""):
    """Sorted model indices named by a model spec, read by blox_space.parse_models, the one
    parser every command uses (so the workflow's buckets are the models the CLIs select).
    ``also`` names the key's other allowed values for the error message.
    """
    try:
        return bs.parse_models(spec)
    except bs.ModelSpecError as err:
        raise config_error(key, f"{err}{also}") from None


def check_config():
    """Cross-key checks the JSON schema cannot express."""
    bench = config["benchmark"]
    if bench["source"] == "import-legacy" and not bench["legacy_dir"]:
        raise config_error(
            "benchmark.legacy_dir",
            'is required when benchmark.source is "import-legacy"',
        )


check_config()


#: Seed of the uniform-block sample (train.uniform_sample), drawn as blox_space draws sample:N:0.
UNIFORM_SAMPLE_SEED = 0


def uniform_models(count=None):
    """Model indices of the uniform-block models (the same block in every stage): all 45,
    or a seeded sample of ``count`` blocks, drawn as blox_space draws sample:N:0."""
    blocks = np.arange(bs.NUM_BLOCKS)
    if count is not None:
        rng = np.random.default_rng(UNIFORM_SAMPLE_SEED)
        blocks = np.unique(rng.choice(bs.NUM_BLOCKS, size=count, replace=False))
    stages = np.repeat(blocks[:, None], bs.NUM_STAGES, axis=1)
    return np.asarray(bs.blocks_to_indices(stages), dtype=np.int64)


def training_models():
    """Every model the config asks to train, sorted and without repeats."""
    train = config["train"]
    models = select_models(train["models"])
    if train["include_uniform"]:
        models = np.union1d(models, uniform_models(train["uniform_sample"]))
    return models


RECIPE = config["train"]["recipe"]
MODELS = training_models()
BUCKET_SIZE = config["train"]["bucket_size"]
NUM_BUCKETS = -(-len(MODELS) // BUCKET_SIZE)
BUCKETS = [f"{bucket:05d}" for bucket in range(NUM_BUCKETS)]
DEVICES = config["latency"]["devices"]


def profiled_models():
    """Models whose end-to-end latency the config asks for (latency.models), sorted."""
    spec = config["latency"]["models"]
    if spec is None:
        return np.array([], dtype=np.int64)
    if spec == "trained":
        return MODELS
    return select_models(
        spec,
        key="latency.models",
        also='; or "trained" (the models the benchmark trains) or null (none)',
    )


LATENCY_MODELS = profiled_models()


#: blox-hw's registries the config names: the command listing each (`--json`, no hardware
#: probe and no torch import, so the check costs well under a second) -> the field of each row.
BLOX_HW_REGISTRIES = {
    "protocols": (["protocols"], "name"),
    "devices": (["devices", "--no-probe"], "kind"),
}


def blox_hw_names():
    """{registry: names} of blox-hw's registries, asked of its command line (the one source;
    both commands run side by side), or None when blox-hw is not on PATH here (e.g. jobs that
    run in containers or with --use-conda)."""
    if shutil.which("blox-hw") is None:
        return None
    procs = {
        command: subprocess.Popen(
            ["blox-hw", "-q", *argv, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command, (argv, _) in BLOX_HW_REGISTRIES.items()
    }
    names = {}
    for command, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            last = (err.strip().splitlines() or ["no message"])[-1]
            raise WorkflowError(f"blox-hw {command} --json failed at start: {last}")
        field = BLOX_HW_REGISTRIES[command][1]
        names[command] = [row[field] for row in json.loads(out)[command]]
    return names


def check_latency_names():
    """latency.protocol and the kinds in latency.devices are names in blox-hw's registries:
    check them against blox-hw once at start, so a typo stops the run before any job.

    Only the main process checks (not each cluster job) and only when the latency stage
    runs. Without blox-hw on this machine the check is left to the latency jobs, whose
    blox-hw exits 2 with a one-line error naming the known names.
    """
    if not DEVICES or not workflow.is_main_process:
        return
    known = blox_hw_names()
    if known is None:
        logger.warning(
            "blox-hw is not on PATH: latency.protocol and latency.devices are checked by the"
            " latency jobs instead of at start"
        )
        return
    protocol = config["latency"]["protocol"]
    if protocol not in known["protocols"]:
        raise config_error(
            "latency.protocol",
            f"unknown protocol {protocol!r}; blox-hw knows {', '.join(known['protocols'])}",
        )
    for device in DEVICES:
        if device.partition(":")[0] not in known["devices"]:
            raise config_error(
                "latency.devices",
                f"unknown device {device!r}; blox-hw knows {', '.join(known['devices'])}"
                " (KIND or KIND:INDEX, e.g. cuda:1)",
            )


check_latency_names()

LATENCY_BUCKET_SIZE = config["latency"]["bucket_size"]
LATENCY_BUCKETS = [
    f"{bucket:05d}" for bucket in range(-(-len(LATENCY_MODELS) // LATENCY_BUCKET_SIZE))
]
BENCHMARK_STORE = f"results/benchmark/{RECIPE}.zarr"
SPACE_STORE = "results/space.zarr"
REPORT_DIR = "results/report"


def benchmark_rules():
    """The rule file that produces the benchmark store, chosen by benchmark.source."""
    return {
        "train": "train.smk",
        "import-legacy": "import_legacy.smk",
    }[config["benchmark"]["source"]]


def models_arg(indices):
    """A CLI model spec for sorted indices: "START:STOP" when contiguous, else a comma list."""
    if len(indices) > 1 and indices[-1] - indices[0] == len(indices) - 1:
        return f"{indices[0]}:{indices[-1] + 1}"
    return ",".join(str(index) for index in indices)


def bucket_models(wildcards):
    """Model spec of one bucket: the bucket-th slice of bucket_size selected models."""
    bucket = int(wildcards.bucket)
    return models_arg(MODELS[bucket * BUCKET_SIZE : (bucket + 1) * BUCKET_SIZE])


def train_overrides(wildcards):
    """blox-train flags for the config's recipe overrides (null keeps the recipe's value)."""
    train = config["train"]
    flags = [f"--set seeds={','.join(str(seed) for seed in train['seeds'])}"]
    for key in ("epochs", "width", "resolution", "dataset"):
        if train[key] is not None:
            flags.append(f"--set {key}={train[key]}")
    if train["data_root"] is not None:
        flags.append(f"--data-root {train['data_root']}")
    flags.append(f"--device {train['device']}")
    return " ".join(flags)


def bucket_of(wildcards):
    """This bucket's place among all buckets, I/N, recorded in the shard for the merge."""
    return f"{int(wildcards.bucket)}/{NUM_BUCKETS}"


def expected_models(wildcards):
    """Every selected model, so the merge refuses a store with a gap."""
    return models_arg(MODELS)


def train_shards(wildcards):
    """Every shard store of a recipe, in bucket order (the merge's inputs)."""
    return expand(
        "results/train/{recipe}/bucket-{bucket}.zarr",
        recipe=wildcards.recipe,
        bucket=BUCKETS,
    )


def latency_gpus(wildcards):
    """One GPU for a CUDA device, none for a CPU device."""
    return 1 if wildcards.device.startswith("cuda") else 0


def latency_overrides(wildcards):
    """blox-hw flags for the network size and run count set in the config."""
    latency = config["latency"]
    flags = [f"--protocol {latency['protocol']}"]
    for key in ("width", "resolution", "num_runs"):
        if latency[key] is not None:
            flags.append(f"--{key.replace('_', '-')} {latency[key]}")
    return " ".join(flags)


def latency_bucket_models(wildcards):
    """Model spec of one latency-profiling bucket."""
    bucket = int(wildcards.bucket)
    size = LATENCY_BUCKET_SIZE
    return models_arg(LATENCY_MODELS[bucket * size : (bucket + 1) * size])


def latency_shards(wildcards):
    """Every per-model latency shard of a device, in bucket order (the merge's inputs)."""
    return expand(
        "results/latency/models/{device}/bucket-{bucket}.zarr",
        device=wildcards.device,
        bucket=LATENCY_BUCKETS,
    )


def latency_expected(wildcards):
    """Every profiled model, so the latency merge refuses a gap."""
    return models_arg(LATENCY_MODELS)


def latency_validate_models(wildcards):
    """The seeded sample of models measured end to end to validate the lookup table."""
    return f"sample:{config['latency']['validate_models']}:0"


def report_inputs(wildcards):
    """The stores the report reads."""
    inputs = {"space": SPACE_STORE, "benchmark": BENCHMARK_STORE}
    inputs["latency"] = expand("results/latency/{device}.zarr", device=DEVICES)
    if len(LATENCY_MODELS):
        inputs["latency"] += expand(
            "results/latency/models/{device}.zarr", device=DEVICES
        )
    if config["latency"]["validate_models"] > 0:
        inputs["validation"] = expand(
            "results/latency/{device}-validation.json", device=DEVICES
        )
    inputs.update(blockwise_report_inputs())
    inputs.update(predict_report_inputs())
    inputs.update(search_report_inputs())
    inputs.update(bsearch_report_inputs())
    return inputs


def final_targets():
    """What `snakemake` builds by default: the report (which pulls every stage)."""
    return [f"{REPORT_DIR}/index.html"]


# ---------------------------------------------------------------------------------------
# blockwise distillation and fine-tuning
# ---------------------------------------------------------------------------------------
BLOCKWISE = config["blockwise"]
BLOCKWISE_DIR = "results/blockwise"
SELECTION = f"{BLOCKWISE_DIR}/selection.json"
STAGES = list(range(bs.NUM_STAGES))
BLOCKS = BLOCKWISE["blocks"]
FT_EPOCHS = BLOCKWISE["ft_epochs"]


def teacher_table():
    """{name: selector} of the configured teachers, in order. A list names the paper's
    selectors as the paper does (bs.PAPER_TEACHERS: rank:1 is M1, ...) and any other
    selector T<position>; a mapping gives the names itself."""
    teachers = BLOCKWISE["teachers"]
    if isinstance(teachers, dict):
        table = {name: str(selector) for name, selector in teachers.items()}
    else:
        paper = {selector: name for name, selector in bs.PAPER_TEACHERS.items()}
        table = {
            paper.get(str(selector), f"T{i + 1}"): str(selector)
            for i, selector in enumerate(teachers)
        }
    if len(set(table.values())) != len(table):
        raise config_error("blockwise.teachers", "a selector appears twice")
    return table


def check_blockwise():
    """blockwise keys the schema cannot check: snapshots within the distillation epochs."""
    epochs = BLOCKWISE["distill_epochs"]
    snapshots = BLOCKWISE["snapshots"] or [epochs]
    late = [s for s in snapshots if s > epochs]
    if late:
        raise config_error(
            "blockwise.snapshots",
            f"snapshot epochs {late} are after the last distillation epoch {epochs}",
        )
    chosen = BLOCKWISE["distill_epoch"]
    if chosen is not None and chosen not in snapshots:
        raise config_error(
            "blockwise.distill_epoch",
            f"{chosen} is not a snapshot epoch; snapshots are {sorted(snapshots)}",
        )


check_blockwise()
TEACHERS = teacher_table()


def teacher_selectors(wildcards):
    """The selectors, in teacher order, for `blox-space select`."""
    return " ".join(f"'{selector}'" for selector in TEACHERS.values())


def teacher_names_arg(wildcards):
    return ",".join(TEACHERS)


def students_arg(wildcards):
    spec = BLOCKWISE["students"]
    return ",".join(str(i) for i in spec) if isinstance(spec, list) else f"'{spec}'"


def teacher_selector(wildcards):
    """The selector of one teacher (quoted for the shell)."""
    try:
        return f"'{TEACHERS[wildcards.teacher]}'"
    except KeyError:
        raise WorkflowError(
            f"unknown teacher {wildcards.teacher!r}; the config names {', '.join(TEACHERS)}"
        ) from None


def distill_blocks(wildcards):
    """The candidate blocks of a distill job: all 45, or (blocks: students) those the
    students in the selection file use at the job's stage, read by the job itself."""
    if BLOCKS == "all":
        return "--blocks all"
    return f"--blocks-of {SELECTION}"


def expected_students():
    """How many students the selection will hold at least (the teachers come on top), known
    before the benchmark exists: a sample:N:S spec draws min(N, trained models); another spec
    names its models (those not trained are left out by blox-space select)."""
    spec = BLOCKWISE["students"]
    trained = len(MODELS) if config["benchmark"]["source"] == "train" else bs.NUM_MODELS
    if isinstance(spec, str) and spec.startswith("sample:"):
        try:
            count = int(spec.split(":")[1])
        except ValueError:
            raise config_error(
                "blockwise.students", f"cannot read model spec {spec!r}"
            ) from None
        return max(1, min(count, trained))
    if spec in ("all", "trained"):
        return trained
    return max(1, min(len(select_models(spec, key="blockwise.students")), trained))


#: Fine-tuning jobs per teacher and FT length: each takes slice I of N of the students
#: (np.array_split, never empty while the selection holds at least N students).
STUDENT_BUCKETS = [
    f"{bucket:05d}"
    for bucket in range(-(-expected_students() // BLOCKWISE["bucket_size"]))
]


def data_flags():
    """Where the blockwise jobs find the data and which device they use: the training's."""
    train = config["train"]
    flags = [f"--device {train['device']}"]
    if train["data_root"] is not None:
        flags.append(f"--data-root {train['data_root']}")
    return flags


def distill_options(wildcards):
    epochs = BLOCKWISE["distill_epochs"]
    snapshots = BLOCKWISE["snapshots"] or [epochs]
    flags = [
        f"--epochs {epochs}",
        f"--snapshots {','.join(str(s) for s in sorted(snapshots))}",
    ]
    return " ".join(flags + data_flags())


def student_bucket_of(wildcards):
    """This fine-tuning job's slice of the students, I/N."""
    return f"{int(wildcards.bucket)}/{len(STUDENT_BUCKETS)}"


def finetune_options(wildcards):
    flags = [
        f"--alpha {BLOCKWISE['alpha']}",
        f"--temperature {BLOCKWISE['temperature']}",
    ]
    if BLOCKWISE["distill_epoch"] is not None:
        flags.append(f"--distill-epoch {BLOCKWISE['distill_epoch']}")
    return " ".join(flags + data_flags())


def finetune_shards(wildcards):
    return expand(
        "results/finetune/{teacher}/ft{ft}/bucket-{bucket}.zarr",
        teacher=wildcards.teacher,
        ft=wildcards.ft,
        bucket=STUDENT_BUCKETS,
    )


def blockwise_figure_inputs(wildcards):
    """The stores Figures 7, 8, 9 and 11 read: finetune stores teacher-major, FT lengths in
    config order (the order blockwise_figures.py expects)."""
    return {
        "benchmark": BENCHMARK_STORE,
        "selection": SELECTION,
        "blockwise": expand(f"{BLOCKWISE_DIR}/{{teacher}}.zarr", teacher=TEACHERS),
        "finetune": [
            f"results/finetune/{teacher}-ft{ft}.zarr"
            for teacher in TEACHERS
            for ft in FT_EPOCHS
        ],
    }


def blockwise_report_inputs():
    """The blockwise figures the report page shows (none when no teacher is configured)."""
    if not TEACHERS:
        return {}
    return {"blockwise": f"{REPORT_DIR}/blockwise.json"}


# ---------------------------------------------------------------------------------------
# predictors (Figure 10), the surrogate store and zero-cost proxies
# ---------------------------------------------------------------------------------------
PREDICT = config["predict"]
PREDICT_DIR = "results/predict"
PROXIES_STORE = f"{PREDICT_DIR}/proxies.zarr"
SURROGATE_STORE = f"{PREDICT_DIR}/surrogate.zarr"
#: Predictors that read signatures from a blockwise store, and the parameter choosing where:
#: DONNA at every recorded distillation epoch, LANA at every snapshot.
SIGNATURE_PREDICTORS = {"donna": "epoch", "lana": "snapshot"}


def predict_teacher():
    """The teacher of the finetune target and of DONNA's / LANA's blockwise store."""
    name = PREDICT["teacher"]
    if name is None:
        return next(iter(TEACHERS), None)
    if name not in TEACHERS:
        raise config_error(
            "predict.teacher",
            f"{name!r} is not a teacher; blockwise.teachers names {', '.join(TEACHERS) or 'none'}",
        )
    return name


def predict_target():
    """The store the predictors learn from: the benchmark or one finetune store."""
    if PREDICT["target"] == "benchmark":
        return BENCHMARK_STORE
    teacher = predict_teacher()
    if teacher is None:
        raise config_error(
            "predict.target",
            "finetune needs a teacher; blockwise.teachers is empty (use target: benchmark)",
        )
    ft = PREDICT["ft_epochs"] or max(FT_EPOCHS)
    if ft not in FT_EPOCHS:
        raise config_error(
            "predict.ft_epochs",
            f"{ft} is not a fine-tuning length; blockwise.ft_epochs is {FT_EPOCHS}",
        )
    return f"results/finetune/{teacher}-ft{ft}.zarr"


def predictor_table():
    """{name: (predictor, params)} of predict.predictors, in config order."""
    table = {}
    for entry in PREDICT["predictors"]:
        name = entry["name"]
        if name in table:
            raise config_error("predict.predictors", f"the name {name!r} appears twice")
        table[name] = (entry.get("predictor") or name, dict(entry.get("params") or {}))
    return table


PREDICTORS = predictor_table()


def predict_entries():
    """{label: (predictor, params)} of every evaluation job: a signature predictor once per
    distillation epoch (DONNA) or snapshot (LANA) of the teacher's blockwise store, labelled
    e.g. donna-e2 / lana-s2; the proxy predictor with the proxies store."""
    entries = {}
    epochs = list(range(1, BLOCKWISE["distill_epochs"] + 1))
    snapshots = sorted(BLOCKWISE["snapshots"] or [BLOCKWISE["distill_epochs"]])
    for label, (name, params) in PREDICTORS.items():
        where = SIGNATURE_PREDICTORS.get(name)
        if where is not None:
            if predict_teacher() is None:
                raise config_error(
                    "predict.predictors",
                    f"{label}: {name} reads a blockwise store; blockwise.teachers is empty",
                )
            for value in epochs if where == "epoch" else snapshots:
                entries[f"{label}-{where[0]}{value}"] = (name, {**params, where: value})
        elif name == "proxy":
            if PREDICT["proxies"] is None:
                raise config_error(
                    "predict.predictors",
                    f"{label}: the proxy predictor reads the proxies store; predict.proxies is null",
                )
            entries[label] = (name, {"proxies": PROXIES_STORE, **params})
        else:
            entries[label] = (name, params)
    return entries


PREDICT_TARGET = (
    predict_target()
    if PREDICT["predictors"] or PREDICT["surrogate"] or PREDICT["proxies"]
    else None
)
PREDICT_ENTRIES = predict_entries()


def predict_target_input(wildcards):
    """The target store as a rule input (none while the predict stage is off)."""
    return [PREDICT_TARGET] if PREDICT_TARGET else []


def param_flags(name, params):
    """--predictor NAME --param KEY=JSON ... (shell-quoted), blockwise stores as --signatures."""
    flags = [f"--predictor {name}"]
    for key, value in params.items():
        if key == "signatures":
            flags.append(f"--signatures {shlex.quote(str(value))}")
        else:
            flags.append(f"--param {shlex.quote(f'{key}={json.dumps(value)}')}")
    return flags


def entry_signatures(label):
    name, _ = PREDICT_ENTRIES[label]
    if name in SIGNATURE_PREDICTORS:
        return f"{BLOCKWISE_DIR}/{predict_teacher()}.zarr"
    return None


def evaluate_inputs(wildcards):
    """The target store, plus the blockwise store or the proxies store the entry reads."""
    if wildcards.entry not in PREDICT_ENTRIES:
        raise WorkflowError(
            f"unknown predictor entry {wildcards.entry!r}; the config gives {', '.join(PREDICT_ENTRIES)}"
        )
    inputs = {"target": PREDICT_TARGET}
    signatures = entry_signatures(wildcards.entry)
    if signatures is not None:
        inputs["signatures"] = signatures
    if PREDICT_ENTRIES[wildcards.entry][0] == "proxy":
        inputs["proxies"] = PROXIES_STORE
    return inputs


def evaluate_options(wildcards):
    name, params = PREDICT_ENTRIES[wildcards.entry]
    signatures = entry_signatures(wildcards.entry)
    if signatures is not None:
        params = {"signatures": signatures, **params}
    flags = param_flags(name, params)
    flags.append(f"--metric {PREDICT['metric']}")
    flags.append(f"--train-sizes {','.join(str(n) for n in PREDICT['train_sizes'])}")
    flags.append(f"--seeds {','.join(str(s) for s in PREDICT['seeds'])}")
    flags.append(f"--top-k {PREDICT['top_k']}")
    return " ".join(flags)


def surrogate_predictor():
    """(predictor, params) of the surrogate's members: those of a predict.predictors entry."""
    label = PREDICT["surrogate"].get("predictor", "gcn")
    if label not in PREDICTORS:
        raise config_error(
            "predict.surrogate.predictor",
            f"{label!r} is not a predict.predictors entry; they are {', '.join(PREDICTORS) or 'none'}",
        )
    name, params = PREDICTORS[label]
    if name in SIGNATURE_PREDICTORS or name == "proxy":
        raise config_error(
            "predict.surrogate.predictor",
            f"{label} ({name}) needs signatures or proxies of every model; use a graph predictor such as gcn",
        )
    return name, params


if PREDICT["surrogate"] is not None:
    surrogate_predictor()  # a wrong entry stops the run at start


def surrogate_options(wildcards):
    surrogate = PREDICT["surrogate"]
    flags = param_flags(*surrogate_predictor())
    flags.append(f"--metric {PREDICT['metric']}")
    flags.append(f"--ensemble {surrogate.get('ensemble', 5)}")
    if surrogate.get("train_size") is not None:
        flags.append(f"--train-size {surrogate['train_size']}")
    flags.append(f"--seed {surrogate.get('seed', 0)}")
    return " ".join(flags)


def proxies_models():
    """How the proxies jobs get their models and how many there are: the target's models
    (the selection file of the students, or the trained models) or a model spec."""
    spec = PREDICT["proxies"].get("models", "target")
    if spec == "target":
        if PREDICT["target"] == "finetune":
            return f"--models-from {SELECTION}", expected_students()
        return f"--models {models_arg(MODELS)}", len(MODELS)
    models = select_models(spec, key="predict.proxies.models", also='; or "target"')
    return f"--models {models_arg(models)}", len(models)


PROXY_BUCKETS = []
if PREDICT["proxies"] is not None:
    _count = proxies_models()[1]
    PROXY_BUCKETS = [
        f"{bucket:05d}"
        for bucket in range(-(-_count // PREDICT["proxies"].get("bucket_size", 64)))
    ]


def proxies_inputs(wildcards):
    """The selection file when the proxies are of the students."""
    if (
        PREDICT["proxies"].get("models", "target") == "target"
        and PREDICT["target"] == "finetune"
    ):
        return [SELECTION]
    return []


def proxies_options(wildcards):
    models, _ = proxies_models()
    train = config["train"]
    flags = [models, f"--bucket-of {int(wildcards.bucket)}/{len(PROXY_BUCKETS)}"]
    flags.append(f"--recipe {RECIPE}")
    for key in ("width", "resolution", "dataset"):
        if train[key] is not None:
            flags.append(f"--set {key}={train[key]}")
    if train["data_root"] is not None:
        flags.append(f"--data-root {train['data_root']}")
    flags.append(f"--device {train['device']}")
    return " ".join(flags)


def proxy_shards(wildcards):
    return expand(f"{PREDICT_DIR}/proxies/bucket-{{bucket}}.zarr", bucket=PROXY_BUCKETS)


def predict_figure_inputs(wildcards):
    """What Figure 10 reads: every evaluation table, the target, the proxies, the surrogate."""
    inputs = {
        "target": PREDICT_TARGET,
        "evaluations": expand(
            f"{PREDICT_DIR}/evaluate/{{entry}}.csv", entry=PREDICT_ENTRIES
        ),
    }
    if PREDICT["proxies"] is not None:
        inputs["proxies"] = PROXIES_STORE
    if PREDICT["surrogate"] is not None:
        inputs["surrogate"] = SURROGATE_STORE
    return inputs


def predict_report_inputs():
    """Figure 10's numbers for the report page (none when the stage is off)."""
    if PREDICT_TARGET is None:
        return {}
    return {"predict": f"{REPORT_DIR}/predict.json"}


# ---------------------------------------------------------------------------------------
# conventional NAS (Figure 5, Table 2's conventional rows, the multi-objective hypervolume)
# ---------------------------------------------------------------------------------------
SEARCH = config["search"]
SEARCH_DIR = "results/search"
#: The search stage's own surrogate of the normal-training benchmark, fitted when the predict
#: stage's surrogate completes another store (its finetune target).
SEARCH_SURROGATE = f"{SEARCH_DIR}/surrogate/surrogate.zarr"


def search_table():
    """{name: (algorithm, params, latency_device)} of search.algorithms, in config order."""
    table = {}
    for entry in SEARCH["algorithms"]:
        name = entry["name"]
        if name in table:
            raise config_error("search.algorithms", f"the name {name!r} appears twice")
        device = entry.get("latency_device")
        if device is not None and SEARCH["evaluator"] == "live":
            raise config_error(
                "search.algorithms",
                f"{name}: latency_device is for tabular searches; search.evaluator is live",
            )
        if device is not None and not DEVICES:
            # latency switched off (latency.devices: []): the multi-objective entry cannot run
            logger.warning(
                f"search.algorithms: {name} is skipped: it searches accuracy x latency on"
                f" {device!r}, and latency.devices is empty"
            )
            continue
        if device is not None and device not in DEVICES:
            # a device kind (cpu) names the one measured device of that kind (cpu:0)
            same_kind = [d for d in DEVICES if d.split(":")[0] == device]
            if len(same_kind) != 1:
                raise config_error(
                    "search.algorithms",
                    f"{name}: latency_device {device!r} is not measured; latency.devices is"
                    f" {', '.join(DEVICES)}",
                )
            device = same_kind[0]
        table[name] = (
            entry.get("algorithm") or name,
            dict(entry.get("params") or {}),
            device,
        )
    return table


SEARCHES = search_table()
#: One-shot algorithms (DARTS-PT): they train a supernet on the benchmark's recipe and data, so
#: their entries run with a live evaluator whatever search.evaluator says; the chosen model is
#: answered from the benchmark when it was trained there (--reuse), else trained (and recorded
#: in results/search/live/{entry}.zarr, kept with the supernet's work folder for a rerun).
ONE_SHOT = ("darts_pt",)
#: Search seeds per entry: its own seeds, else search.seeds.
SEARCH_SEEDS = {
    entry["name"]: list(entry.get("seeds") or SEARCH["seeds"])
    for entry in SEARCH["algorithms"]
    if entry["name"] in SEARCHES
}


def is_one_shot(entry):
    """Whether a search entry runs a one-shot algorithm."""
    return SEARCHES[entry][0] in ONE_SHOT


for _entry, (_, _, _device) in SEARCHES.items():
    if is_one_shot(_entry) and _device is not None:
        raise config_error(
            "search.algorithms",
            f"{_entry}: a one-shot algorithm takes no latency_device",
        )


def search_evaluator():
    """The evaluator the searches use: search.evaluator, except that "surrogate" falls back to
    "benchmark" (the trained sample) when predict.surrogate is null."""
    kind = SEARCH["evaluator"]
    if kind == "surrogate" and PREDICT["surrogate"] is None:
        if SEARCHES and workflow.is_main_process:
            logger.warning(
                "search.evaluator is surrogate but predict.surrogate is null: the searches"
                " search the benchmark store (its trained models) instead"
            )
        return "benchmark"
    return kind


SEARCH_EVALUATOR = search_evaluator()


def searched_store():
    """The store the tabular searches read: the benchmark, or a surrogate-completed benchmark
    (the predict stage's surrogate when it completes the benchmark, else the search stage's).
    """
    if SEARCH_EVALUATOR != "surrogate":
        return BENCHMARK_STORE
    if PREDICT["target"] == "benchmark":
        return SURROGATE_STORE
    return SEARCH_SURROGATE


SEARCHED_STORE = searched_store()


def search_surrogate_options(wildcards):
    """blox-predict fit flags of the search stage's surrogate: predict.surrogate's predictor,
    ensemble and seed, trained on every measured model of the benchmark."""
    surrogate = PREDICT["surrogate"]
    flags = param_flags(*surrogate_predictor())
    flags.append("--metric best_val_acc")
    flags.append(f"--ensemble {surrogate.get('ensemble', 5)}")
    flags.append(f"--seed {surrogate.get('seed', 0)}")
    return " ".join(flags)


def search_latency_stores(entry):
    """The latency stores of an entry's latency device (none without one): the lookup table,
    which predicts every model, and the measured latencies when they cover every candidate
    (the trained models of the benchmark store)."""
    device = SEARCHES[entry][2]
    if device is None:
        return []
    stores = [f"results/latency/{device}.zarr"]
    if SEARCHED_STORE == BENCHMARK_STORE and config["latency"]["models"] in (
        "trained",
        "all",
    ):
        stores.append(f"results/latency/models/{device}.zarr")
    return stores


def search_run_inputs(wildcards):
    """A search job's inputs: the searched store (tabular), the benchmark (one FTE) and the
    latency stores of the entry's latency device."""
    if wildcards.entry not in SEARCHES:
        raise WorkflowError(
            f"unknown search entry {wildcards.entry!r}; the config gives {', '.join(SEARCHES)}"
        )
    inputs = {"benchmark": BENCHMARK_STORE}
    if SEARCH_EVALUATOR != "live" and not is_one_shot(wildcards.entry):
        inputs["store"] = SEARCHED_STORE
    latency = search_latency_stores(wildcards.entry)
    if latency:
        inputs["latency"] = latency
    return inputs


def search_options(wildcards):
    """blox-search run flags of one entry (shell-quoted): algorithm parameters, budget, seeds,
    the evaluator and its seed policy, the FTE store; live: the training."""
    algorithm, params, device = SEARCHES[wildcards.entry]
    flags = [
        f"--budget-fte {SEARCH['budget_fte']}",
        f"--seeds {','.join(str(seed) for seed in SEARCH_SEEDS[wildcards.entry])}",
        f"--fte-store {BENCHMARK_STORE}",
    ]
    for key, value in params.items():
        flags.append(f"--set {shlex.quote(f'{key}={json.dumps(value)}')}")
    if SEARCH["max_evaluations"] is not None:
        flags.append(f"--max-evaluations {SEARCH['max_evaluations']}")
    if SEARCH_EVALUATOR == "live" or is_one_shot(wildcards.entry):
        live, train = SEARCH["live"], config["train"]
        one_shot = SEARCH_EVALUATOR != "live"  # the benchmark's recipe, all models
        flags.append("--evaluator live")
        flags.append(f"--recipe {RECIPE if one_shot else live['recipe'] or RECIPE}")
        if not is_one_shot(wildcards.entry):  # a supernet may choose any model
            flags.append(f"--models {shlex.quote(models_arg(search_live_models()))}")
        overrides = ({} if one_shot else dict(live["train_set"])) or {
            key: train[key]
            for key in ("epochs", "width", "resolution", "dataset")
            if train[key] is not None
        }
        for key, value in overrides.items():
            # blox-train's recipe rules type the value, as for blox-train --set
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            flags.append(f"--train-set {shlex.quote(f'{key}={text}')}")
        flags.append(f"--device {train['device']}")
        if train["data_root"] is not None:
            flags.append(f"--data-root {train['data_root']}")
        if one_shot and config["benchmark"]["source"] == "train":
            # the trained benchmark has this recipe: its runs answer for their models
            flags.append(f"--reuse {BENCHMARK_STORE}")
    else:
        flags.append("--evaluator tabular")
        flags.append(f"--seed-policy {SEARCH['seed_policy']}")
    if device is not None:
        stores = search_latency_stores(wildcards.entry)
        flags.append(f"--latency {' '.join(stores)}")
        # the config names the device by its kind; blox-search picks the attached device of that kind
        flags.append(f"--latency-device {shlex.quote(device)}")
    return " ".join(flags)


def search_algorithm(wildcards):
    """The registered algorithm of an entry."""
    return SEARCHES[wildcards.entry][0]


def search_live_models():
    """The candidates of a live search (search.live.models)."""
    return select_models(SEARCH["live"]["models"], key="search.live.models")


if SEARCHES and SEARCH_EVALUATOR == "live":
    search_live_models()  # a wrong spec stops the run at start


def search_gpus(wildcards):
    """One GPU for a live search (or a one-shot entry) on a CUDA device; none for a tabular
    search."""
    return int(
        (SEARCH_EVALUATOR == "live" or is_one_shot(wildcards.entry))
        and config["train"]["device"].startswith("cuda")
    )


def search_store_arg(wildcards):
    """STORE of `blox-search run`: the searched store, or a one-shot entry's live store."""
    if is_one_shot(wildcards.entry):
        return f"{SEARCH_DIR}/live/{wildcards.entry}.zarr"
    return SEARCHED_STORE


def search_runtime(wildcards):
    """Minutes a tabular search job may run: an hour; a one-shot entry: two hours per seed
    (a supernet and one model's training each)."""
    if is_one_shot(wildcards.entry):
        return 120 * len(SEARCH_SEEDS[wildcards.entry])
    return 60


def search_runs(wildcards):
    """Every search store, in config order (Table 2's row order)."""
    return expand(f"{SEARCH_DIR}/{{entry}}.zarr", entry=SEARCHES)


def pareto_entries():
    """The entries with a latency device: their fronts' hypervolumes."""
    return [name for name, (_, _, device) in SEARCHES.items() if device is not None]


def pareto_inputs(wildcards):
    """The multi-objective search stores and the latency stores their evaluators read (the
    hypervolumes rebuild each evaluator to know the true front)."""
    latency = []
    for entry in pareto_entries():
        for store in search_latency_stores(entry):
            if store not in latency:
                latency.append(store)
    return {
        "runs": expand(f"{SEARCH_DIR}/{{entry}}.zarr", entry=pareto_entries()),
        "latency": latency,
    }


def summary_options(wildcards):
    """blox-search summary flags: Table 2's budget and (when set) its target."""
    flags = [f"--budget-fte {SEARCH['budget_fte']}"]
    if SEARCH["target"] is not None:
        flags.append(f"--target {SEARCH['target']}")
    return " ".join(flags)


def search_figure_inputs(wildcards):
    """What Figure 5 and Table 2 read: the summary, every entry's trajectories, the searched
    store (its label: measured / predicted models) and the hypervolumes."""
    inputs = {
        "summary": f"{SEARCH_DIR}/summary.json",
        "trajectories": expand(f"{SEARCH_DIR}/{{entry}}.csv", entry=SEARCHES),
        "benchmark": BENCHMARK_STORE,
    }
    if SEARCH_EVALUATOR != "live":
        inputs["store"] = SEARCHED_STORE
    if pareto_entries():
        inputs["pareto"] = f"{SEARCH_DIR}/pareto.json"
    return inputs


def search_report_inputs():
    """Figure 5 and Table 2 for the report page (none when no algorithm is configured)."""
    if not SEARCHES:
        return {}
    return {"search": f"{REPORT_DIR}/search.json"}


# ---------------------------------------------------------------------------------------
# blockwise search (DONNA, LANA, FT-alpha, two-phase, iterative teacher)
# ---------------------------------------------------------------------------------------
BSEARCH = config["blockwise_search"]
BSEARCH_DIR = "results/blockwise_search"
#: The algorithms that evaluate at several FT lengths (short, then long).
MULTI_FT = ("two_phase", "iterative_teacher")
#: The algorithms that take the phase-one budget (blockwise_search.phase_one_fte).
PHASED = ("two_phase", "iterative_teacher")


def bsearch_budget():
    """Table 2's budget of the blockwise rows: blockwise_search.budget_fte, else search.budget_fte."""
    value = BSEARCH["budget_fte"]
    return SEARCH["budget_fte"] if value is None else value


def bsearch_target():
    """Table 2's target of the blockwise rows (null: the benchmark's best normal accuracy)."""
    value = BSEARCH["target"]
    return SEARCH["target"] if value is None else value


def ft_lengths(which):
    """The FT lengths (blockwise.ft_epochs) an entry's evaluator offers: short = the smallest,
    long = the largest, all = both ends (the two-phase searches switch from one to the other).
    """
    lengths = sorted({int(f) for f in FT_EPOCHS})
    return {
        "short": lengths[:1],
        "long": lengths[-1:],
        "all": sorted({lengths[0], lengths[-1]}),
    }[which]


def bsearch_table():
    """{name: entry} of blockwise_search.searches in config order; each entry a dict of
    algorithm, params (the phase-one budget filled in), teacher, ft lengths, latency device.
    """
    table = {}
    if not BSEARCH["searches"]:
        return table
    if not TEACHERS:
        # blockwise switched off (blockwise.teachers: []): nothing to fine-tune students with
        logger.warning(
            "blockwise_search.searches are skipped: blockwise.teachers is empty"
        )
        return table
    budget = bsearch_budget()
    for entry in BSEARCH["searches"]:
        name = entry["name"]
        if name in table or name in SEARCHES:
            raise config_error(
                "blockwise_search.searches",
                f"the name {name!r} appears twice (search entries count)",
            )
        algorithm = entry.get("algorithm") or name
        teacher = entry.get("teacher") or next(iter(TEACHERS))
        params = dict(entry.get("params") or {})
        if "teacher" in params:
            raise config_error(
                "blockwise_search.searches",
                f"{name}: give the teacher as the entry's teacher, not a param",
            )
        missing = [
            t
            for t in (teacher, params.get("retrain_teacher"))
            if t and t not in TEACHERS
        ]
        if missing:
            # like an entry whose latency device is not measured: the preset's entries name the
            # paper's teachers, a config with other teachers runs the entries it can
            logger.warning(
                f"blockwise_search.searches: {name} is skipped: {', '.join(map(repr, missing))}"
                f" is not a teacher; blockwise.teachers names {', '.join(TEACHERS)}"
            )
            continue
        if algorithm in PHASED:
            params.setdefault("phase_one_fte", BSEARCH["phase_one_fte"])
            if params["phase_one_fte"] >= budget:
                raise config_error(
                    "blockwise_search.phase_one_fte",
                    f"{name}: the phase-one budget {params['phase_one_fte']} FTE must be below the budget {budget} FTE",
                )
        which = entry.get("ft") or ("all" if algorithm in MULTI_FT else "long")
        device = entry.get("latency_device")
        if device is not None:
            if not DEVICES:
                logger.warning(
                    f"blockwise_search.searches: {name} is skipped: latency.devices is empty"
                )
                continue
            if device not in DEVICES:
                same_kind = [d for d in DEVICES if d.split(":")[0] == device]
                if len(same_kind) != 1:
                    raise config_error(
                        "blockwise_search.searches",
                        f"{name}: latency_device {device!r} is not measured; latency.devices is {', '.join(DEVICES)}",
                    )
                device = same_kind[0]
        table[name] = {
            "algorithm": algorithm,
            "params": params,
            "teacher": teacher,
            "retrain_teacher": params.get("retrain_teacher"),
            "ft": which,
            "ft_epochs": ft_lengths(which),
            "latency_device": device,
        }
    return table


BSEARCHES = bsearch_table()


def bsearch_latency_stores(entry):
    """The latency stores of an entry's device: the lookup table and the measured latencies
    of the trained models (the students are trained models of the benchmark)."""
    device = BSEARCHES[entry]["latency_device"]
    if device is None:
        return []
    stores = [f"results/latency/{device}.zarr"]
    if config["latency"]["models"] in ("trained", "all"):
        stores.append(f"results/latency/models/{device}.zarr")
    return stores


def bsearch_finetune_stores(entry):
    """Every teacher's finetune stores of the entry's FT lengths (any teacher may be asked:
    the retraining teacher, the iterative strategy's picks)."""
    lengths = BSEARCHES[entry]["ft_epochs"]
    return [f"results/finetune/{t}-ft{ft}.zarr" for t in TEACHERS for ft in lengths]


def bsearch_run_inputs(wildcards):
    """A blockwise search job's inputs: the benchmark (normal training, one FTE), the finetune
    and blockwise stores of every teacher, the latency stores of its device."""
    if wildcards.entry not in BSEARCHES:
        raise WorkflowError(
            f"unknown blockwise search {wildcards.entry!r}; the config gives {', '.join(BSEARCHES)}"
        )
    inputs = {
        "benchmark": BENCHMARK_STORE,
        "finetune": bsearch_finetune_stores(wildcards.entry),
        "blockwise": expand(f"{BLOCKWISE_DIR}/{{teacher}}.zarr", teacher=TEACHERS),
    }
    latency = bsearch_latency_stores(wildcards.entry)
    if latency:
        inputs["latency"] = latency
    return inputs


def bsearch_options(wildcards):
    """blox-search run flags of one blockwise entry (shell-quoted)."""
    entry = BSEARCHES[wildcards.entry]
    flags = [
        "--evaluator blockwise",
        f"--budget-fte {bsearch_budget()}",
        f"--seeds {','.join(str(seed) for seed in BSEARCH['seeds'])}",
        f"--fte-store {BENCHMARK_STORE}",
        f"--teacher {entry['teacher']}",
        f"--seed-policy {SEARCH['seed_policy']}",
        "--blockwise " + " ".join(f"{t}={BLOCKWISE_DIR}/{t}.zarr" for t in TEACHERS),
    ]
    if BSEARCH["teacher_given"]:
        flags.append("--teacher-given")
    for key, value in entry["params"].items():
        flags.append(f"--set {shlex.quote(f'{key}={json.dumps(value)}')}")
    if entry["latency_device"] is not None:
        flags.append(f"--latency {' '.join(bsearch_latency_stores(wildcards.entry))}")
        flags.append(f"--latency-device {shlex.quote(entry['latency_device'])}")
    return " ".join(flags)


def bsearch_runs(wildcards):
    """Every blockwise search store, in config order (Table 2's blockwise row order)."""
    return expand(f"{BSEARCH_DIR}/{{entry}}.zarr", entry=BSEARCHES)


def bsearch_pareto_entries():
    """The blockwise entries with a latency device (DONNA / LANA fronts vs the true front)."""
    return [
        name for name, entry in BSEARCHES.items() if entry["latency_device"] is not None
    ]


def bsearch_pareto_inputs(wildcards):
    latency = []
    for entry in bsearch_pareto_entries():
        for store in bsearch_latency_stores(entry):
            if store not in latency:
                latency.append(store)
    return {
        "runs": expand(f"{BSEARCH_DIR}/{{entry}}.zarr", entry=bsearch_pareto_entries()),
        "latency": latency,
    }


def bsearch_summary_options(wildcards):
    flags = [f"--budget-fte {bsearch_budget()}"]
    target = bsearch_target()
    if target is not None:
        flags.append(f"--target {target}")
    return " ".join(flags)


def bsearch_entries_meta():
    """What the figures need to know of each entry (JSON-ready): algorithm, teacher, the
    retraining teacher, FT lengths, latency device, and the teachers' selectors."""
    return {
        name: {
            "algorithm": e["algorithm"],
            "teacher": e["teacher"],
            "teacher_selector": TEACHERS[e["teacher"]],
            "retrain_teacher": e["retrain_teacher"],
            "ft": e["ft"],
            "ft_epochs": e["ft_epochs"],
            "latency_device": e["latency_device"],
            "params": e["params"],
        }
        for name, e in BSEARCHES.items()
    }


def bsearch_figure_inputs(wildcards):
    """What Figures 12-13, Table 2's blockwise rows and the fronts read."""
    inputs = {
        "summary": f"{BSEARCH_DIR}/summary.json",
        "trajectories": expand(f"{BSEARCH_DIR}/{{entry}}.csv", entry=BSEARCHES),
        "benchmark": BENCHMARK_STORE,
    }
    if SEARCHES:
        inputs["conventional"] = f"{SEARCH_DIR}/summary.json"
    if bsearch_pareto_entries():
        inputs["pareto"] = f"{BSEARCH_DIR}/pareto.json"
    return inputs


def bsearch_report_inputs():
    """Figures 12-13 and Table 2's blockwise rows for the report page (none without entries)."""
    if not BSEARCHES:
        return {}
    return {"blockwise_search": f"{REPORT_DIR}/blockwise_search.json"}
