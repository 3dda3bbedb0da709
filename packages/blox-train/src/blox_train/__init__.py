"""blox-train: the Blox network, data, recipes, normal training and shard runner (PyTorch)."""

from __future__ import annotations

from .complexity import count_macs, count_params
from .data import DataSplits, list_datasets, load_dataset, register_dataset
from .distill import distill, distill_stage, nsr_loss
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .library import BlockLibrary, DistillResult, assemble_student, load_block_library, save_block_library
from .network import BloxNet, build_model, stage_shapes
from .recipes import Recipe, get_recipe, list_recipes, register_recipe
from .shard import ShardSummary, parse_models, run_shard
from .signatures import lana_signature, lana_signatures
from .teacher import Teacher, load_teacher, make_teacher
from .train import METRICS, TEST_METRICS, TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "BlockLibrary",
    "BloxNet",
    "DataSplits",
    "DistillResult",
    "METRICS",
    "Recipe",
    "ShardSummary",
    "TEST_METRICS",
    "Teacher",
    "TrainResult",
    "assemble_student",
    "build_model",
    "count_macs",
    "count_params",
    "distill",
    "distill_stage",
    "get_recipe",
    "lana_signature",
    "lana_signatures",
    "list_datasets",
    "list_recipes",
    "load_block_library",
    "load_dataset",
    "load_teacher",
    "make_teacher",
    "nsr_loss",
    "parse_models",
    "register_dataset",
    "register_recipe",
    "run_shard",
    "save_block_library",
    "stage_shapes",
    "train",
    *_errors_all,
]
