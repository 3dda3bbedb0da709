"""Recipes: every setting that changes a training result, as frozen dataclasses by name.

A recipe's id is the md5 of its canonical JSON (:meth:`Recipe.canonical_json`), so two recipes
that train identically share an id whatever they are called, and any override that changes a
result gives a new id. The id is written into every store a recipe produces (with
:data:`RECIPE_ID_VERSION`), so it must outlast changes to this module. The canonical form
(id version 2) therefore is:

- the fields of :data:`ID_BASELINE_FIELDS` (every field of id version 1 but ``name``, which
  changes no result), each with its value, except ``seeds``, which is always written as its
  baseline value ``[0]``: seeds are the store's ``seed`` coordinate, so adding a seed extends a
  benchmark instead of making another one (version 1 hashed the seeds; every id of a recipe
  with seeds ``[0]`` is the same in both versions);
- plus any field added after that only when its value differs from its declared default. A new
  field must have a default that reproduces the behaviour from before it existed; then every
  existing id stays as it was, and only recipes that use the new setting get new ids.

Run options that do not change results (device, workers, data root, progress bars) are not
part of a recipe: the loader makes results independent of the number of workers.

Ids changed on purpose: ``quick`` and ``ci`` switched to ``channels_last`` (and ``quick`` to the
batched ``batch-crop``) to train about twice as fast on CPUs, so their ids are new
(:data:`IDS_BEFORE_CPU_TUNING` lists the ids from before); stores made with the old ids keep their
recipe in their attributes but are not resumed or extended by the new recipes. ``paper`` and
``paper-gpu`` keep their ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from blox_space import Geometry, InvalidGeometryError, Registry

from .augment import AUGMENTATIONS
from .errors import ConfigError, UnknownRecipeError
from .resident import BATCH_AUGMENTATIONS

__all__ = [
    "ID_BASELINE_FIELDS",
    "IDS_BEFORE_CPU_TUNING",
    "RECIPE_ID_VERSION",
    "Recipe",
    "canonical_json",
    "register_recipe",
    "get_recipe",
    "list_recipes",
    "parse_overrides",
    "OPTIMIZERS",
    "SCHEDULES",
    "PRECISIONS",
]

OPTIMIZERS = ("sgd",)
#: Largest epoch count and batch size a recipe takes (far beyond any real use; they catch typos).
MAX_EPOCHS, MAX_BATCH = 100_000, 1_000_000
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("fp32", "bf16")

#: Version of the canonical form that recipe ids hash (see the module docstring); written into
#: every benchmark shard as ``recipe_id_version``.
RECIPE_ID_VERSION = 2
#: The recipe fields of id version 1, always part of the canonical form. Never edit this tuple:
#: a field added later is hashed only when it differs from its default.
ID_BASELINE_FIELDS = (
    "augment", "batch_size", "channels_last", "dataset", "epochs", "eval_batch_size", "label_smoothing",
    "lr", "lr_min", "max_loss", "momentum", "nesterov", "optimizer", "precision", "resolution", "schedule",
    "seeds", "split_seed", "weight_decay", "width",
)  # fmt: skip
#: Ids of ``quick`` and ``ci`` before they were tuned for CPUs (NCHW; ``quick`` with the per-sample
#: ``crop``): what the stores made before carry as ``recipe_id``.
IDS_BEFORE_CPU_TUNING: dict[str, str] = {
    "quick": "1b54145083871ca32131df25248ac38b",
    "ci": "f93c797f2770f7450701243e80792603",
}
#: Baseline values written into the canonical form whatever the recipe's (``seeds``: the
#: store's ``seed`` coordinate, not part of what a recipe means).
_ID_FIXED_VALUES: dict[str, object] = {"seeds": [0]}


@dataclass(frozen=True)
class Recipe:
    """How one model is trained. Every field but ``name`` and ``seeds`` is part of the :attr:`id`.

    Attributes:
        name: registered name (not hashed).
        dataset: dataset name (see :func:`blox_train.data.list_datasets`).
        augment: training augmentation: a per-sample pipeline of
            :data:`blox_train.augment.AUGMENTATIONS` or a batched, device-resident one of
            :data:`blox_train.resident.BATCH_AUGMENTATIONS` (the fast path).
        epochs: training epochs, counted from 1.
        batch_size: training batch size (last batch may be smaller).
        eval_batch_size: validation and test batch size.
        optimizer: ``sgd``.
        lr: initial learning rate.
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 weight decay applied to all parameters.
        schedule: ``cosine`` (to ``lr_min`` over ``epochs``, stepped per epoch) or ``constant``.
        lr_min: final learning rate of the cosine schedule.
        label_smoothing: cross-entropy label smoothing.
        width: stem channels of the model.
        resolution: input side in pixels.
        precision: ``fp32`` or ``bf16`` (autocast).
        channels_last: train in channels-last memory format.
        split_seed: seed of the train/validation split.
        seeds: model seeds a benchmark trains (the store's ``seed`` coordinate; not in the id).
        max_loss: a training loss above this (or NaN) marks the model as diverged.
    """

    name: str
    dataset: str
    augment: str
    epochs: int
    batch_size: int
    eval_batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    width: int
    resolution: int
    optimizer: str = "sgd"
    nesterov: bool = False
    schedule: str = "cosine"
    lr_min: float = 0.0
    label_smoothing: float = 0.0
    precision: str = "fp32"
    channels_last: bool = False
    split_seed: int = 0
    seeds: tuple[int, ...] = (0,)
    max_loss: float = 1e4

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        finite = all(
            math.isfinite(v)
            for v in (self.lr, self.lr_min, self.momentum, self.weight_decay, self.label_smoothing)
        )
        checks = [
            (finite, "lr, lr_min, momentum, weight_decay and label_smoothing must be finite numbers"),
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be >= 1 (and at most {MAX_EPOCHS})"),
            (
                1 <= self.batch_size <= MAX_BATCH and 1 <= self.eval_batch_size <= MAX_BATCH,
                f"batch sizes must be in 1..{MAX_BATCH}",
            ),
            (self.lr > 0 and self.lr_min >= 0, "lr must be > 0 and lr_min >= 0"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (0 < self.max_loss < math.inf, "max_loss must be a finite number > 0"),
            (
                len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds),
                "seeds must be distinct, at least one",
            ),
            (all(0 <= s < 2**32 for s in self.seeds + (self.split_seed,)), "seeds must be in 0..4294967295"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (
                self.augment in AUGMENTATIONS or self.augment in BATCH_AUGMENTATIONS,
                f"augment must be one of {', '.join([*AUGMENTATIONS, *BATCH_AUGMENTATIONS])}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"recipe {self.name!r}: {message}")
        try:
            Geometry(width=self.width, resolution=self.resolution)
        except InvalidGeometryError as err:
            raise InvalidGeometryError(f"recipe {self.name!r}: {err}") from None

    @property
    def id(self) -> str:
        """32-hex md5 of :meth:`canonical_json` (id version :data:`RECIPE_ID_VERSION`).

        Neither ``name`` nor ``seeds`` changes the id (seeds are the store's ``seed``
        coordinate), and a field added later leaves it unchanged while at its default.

        Example:
            >>> paper = get_recipe("paper")
            >>> paper.id
            'aae187ba13fc6a7d07cbb04f0b37032f'
            >>> paper.replace(seeds=(0, 1, 2)).id == paper.id, paper.replace(lr=0.1).id == paper.id
            (True, False)
        """
        return hashlib.md5(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        """Exactly what :attr:`id` hashes: sorted-key, compact JSON (floats by ``repr``) of the
        :data:`ID_BASELINE_FIELDS` (``seeds`` as ``[0]``) and of later fields off their default."""
        return canonical_json(self)

    def to_dict(self) -> dict[str, object]:
        """All fields, JSON-ready (``seeds`` as a list)."""
        data = dataclasses.asdict(self)
        data["seeds"] = list(self.seeds)
        return data

    def replace(self, **overrides: object) -> Recipe:
        """A new recipe with some fields changed (validated; unknown fields raise ConfigError)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(
                f"unknown recipe setting(s) {', '.join(unknown)}; settings are {', '.join(_field_names())}"
            )
        return dataclasses.replace(self, **overrides)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (1-based): cosine uses lr_min + (lr-lr_min)(1+cos(pi(e-1)/E))/2."""
        if self.schedule == "constant":
            return self.lr
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * (epoch - 1) / self.epochs)) / 2


def canonical_json(recipe: object, *, baseline: Sequence[str] = ID_BASELINE_FIELDS) -> str:
    """The canonical form hashed into a recipe id (see the module docstring).

    Args:
        recipe: a :class:`Recipe` (or any dataclass of recipe fields, e.g. a future version
            with more fields).
        baseline: the fields always written (default :data:`ID_BASELINE_FIELDS`); any other
            field except ``name`` is written only when it differs from its default.

    Returns:
        Sorted-key, compact JSON (floats written by ``repr``).

    Example:
        >>> ci = get_recipe("ci")
        >>> canonical_json(ci.replace(seeds=(3, 4))) == canonical_json(ci)
        True
        >>> # were precision added later (not in the baseline), it would count only off its default
        >>> later = [f for f in ID_BASELINE_FIELDS if f != "precision"]
        >>> "precision" in canonical_json(ci, baseline=later)
        False
        >>> "precision" in canonical_json(ci.replace(precision="bf16"), baseline=later)
        True
    """
    data: dict[str, object] = {}
    for f in dataclasses.fields(recipe):  # type: ignore[arg-type]
        value = getattr(recipe, f.name)
        if f.name == "name":
            continue
        if f.name in baseline:
            data[f.name] = _ID_FIXED_VALUES.get(f.name, value)
        elif value != _default(f):
            data[f.name] = value
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _default(f: dataclasses.Field) -> object:
    """The declared default of a field (a field without one never equals it)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Recipe)]


#: Every recipe factory by name (STYLE §3); filled by :func:`register_recipe` at import.
RECIPES: Registry[Callable[[], Recipe]] = Registry("recipe", UnknownRecipeError)


def register_recipe(name: str) -> Callable[[Callable[[], Recipe]], Callable[[], Recipe]]:
    """Register a recipe factory under ``name``; a duplicate name raises ValueError."""
    return RECIPES.register(name)


def list_recipes(pattern: str = "*") -> list[str]:
    """Registered recipe names matching a shell-style ``pattern``, sorted.

    Example:
        >>> list_recipes("paper*")
        ['paper', 'paper-gpu']
    """
    return RECIPES.list(pattern)


def get_recipe(name: str, overrides: Mapping[str, object] | None = None) -> Recipe:
    """The recipe registered as ``name``, with optional overrides.

    Raises:
        UnknownRecipeError: unknown name (lists known names and close matches).
        ConfigError: an unknown or invalid override.

    Example:
        >>> get_recipe("paper").epochs
        200
        >>> get_recipe("paper", {"epochs": 5}).id != get_recipe("paper").id
        True
    """
    factory = RECIPES.get(name)
    recipe = factory()
    return recipe.replace(**overrides) if overrides else recipe


def _coerce(key: str, text: str) -> object:
    """Parse ``text`` as the type of recipe field ``key``."""
    hints = typing.get_type_hints(Recipe)
    kind = hints[key]
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if typing.get_origin(kind) is tuple:
            return tuple(int(v) for v in text.replace(",", " ").split())
        return text
    except ValueError:
        name = getattr(kind, "__name__", str(kind))
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        raise ConfigError(f"recipe setting {key}={shown!r} is not a valid {name}") from None


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["epochs=5", "lr=0.1", "seeds=0,1"]`` -> typed overrides for :meth:`Recipe.replace`.

    Raises:
        ConfigError: an item without ``=``, an unknown setting or a value of the wrong type.

    Example:
        >>> parse_overrides(["epochs=5", "seeds=0,1", "channels-last=yes"])
        {'epochs': 5, 'seeds': (0, 1), 'channels_last': True}
    """
    out: dict[str, object] = {}
    names = _field_names()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ConfigError(f"override {item!r} must look like KEY=VALUE, e.g. epochs=5")
        if key not in names or key == "name":
            raise ConfigError(
                f"unknown recipe setting {key!r}; settings are {', '.join(n for n in names if n != 'name')}"
            )
        out[key] = _coerce(key, value.strip())
    return out


# ---------------------------------------------------------------------------------------
# the registered recipes
# ---------------------------------------------------------------------------------------
@register_recipe("paper")
def paper() -> Recipe:
    """The released benchmark's protocol (facts §4.2): CIFAR-100, 200 epochs, SGD 0.01, cosine."""
    return Recipe(
        name="paper",
        dataset="cifar100",
        augment="paper",
        epochs=200,
        batch_size=256,
        eval_batch_size=100,
        lr=0.01,
        momentum=0.9,
        weight_decay=5e-4,
        width=32,
        resolution=32,
    )


@register_recipe("quick")
def quick() -> Recipe:
    """Default preset: real digits at 16x16, width 8, 6 epochs; 2-17 s per model on one CPU thread.
    Optimizer settings as ``paper`` except the learning rate.

    Tuned for CPU speed (a new id; the old one is in :data:`IDS_BEFORE_CPU_TUNING`):
    ``channels_last`` (the depthwise 5x5 convs of ``bconv`` train ~1.6x faster than in NCHW, the
    1x1 convs of a 360-image evaluation batch up to 30x) and the batched ``batch-crop`` on
    resident tensors (the same pad-and-crop as the per-sample ``crop``, ~10x cheaper to produce;
    the whole split is 1,078 images)."""
    return paper().replace(
        name="quick", dataset="digits", augment="batch-crop", epochs=6, batch_size=64, eval_batch_size=360,
        lr=0.1, width=8, resolution=16, channels_last=True,
    )  # fmt: skip


@register_recipe("ci")
def ci() -> Recipe:
    """Smallest preset for CI: digits at 8x8, width 4, 3 epochs (1-4 s per model; learns to 20-90%).

    ``channels_last`` like ``quick``; the per-sample loader (augment ``none``), so the tests that
    run this recipe exercise the seeded :func:`~blox_train.loader.make_loader` path."""
    return quick().replace(name="ci", augment="none", epochs=3, lr=0.05, width=4, resolution=8)


@register_recipe("paper-gpu")
def paper_gpu() -> Recipe:
    """GPU fast path of ``paper`` (a separate recipe, never mixed with it): CIFAR-100 resident
    on the GPU with batched flip / crop 4 / Cutout 16 (no RandAugment), bf16 autocast and
    channels_last; optimizer, schedule and epochs as ``paper``."""
    return paper().replace(
        name="paper-gpu", augment="batch-flip-crop-cutout", precision="bf16", channels_last=True
    )
