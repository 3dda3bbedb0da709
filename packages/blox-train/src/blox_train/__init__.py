"""blox-train: the Blox network, data, recipes, normal training and shard runner (PyTorch)."""

from __future__ import annotations

from .blockwise import DistillSummary, run_distill
from .complexity import count_macs, count_params
from .data import DataSplits, list_datasets, load_dataset, register_dataset
from .distill import StageDistiller, distill, distill_stage, nsr_loss, parse_blocks
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .finetune import run_finetune
from .library import (
    BlockLibrary,
    DistillResult,
    Library,
    assemble_student,
    load_block_library,
    open_library,
    save_block_library,
    save_library_block,
)
from .network import BloxNet, build_model, stage_shapes
from .recipes import Recipe, get_recipe, list_recipes, register_recipe
from .shard import ShardSummary, parse_models, run_shard
from .signatures import lana_signature, lana_signatures
from .supernet import SuperNet, darts_step
from .teacher import Teacher, load_teacher, make_teacher
from .train import METRICS, TEST_METRICS, TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "BlockLibrary",
    "BloxNet",
    "DataSplits",
    "DistillResult",
    "DistillSummary",
    "Library",
    "METRICS",
    "Recipe",
    "ShardSummary",
    "StageDistiller",
    "SuperNet",
    "TEST_METRICS",
    "Teacher",
    "TrainResult",
    "assemble_student",
    "build_model",
    "count_macs",
    "count_params",
    "darts_step",
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
    "open_library",
    "parse_blocks",
    "parse_models",
    "register_dataset",
    "register_recipe",
    "run_distill",
    "run_finetune",
    "run_shard",
    "save_block_library",
    "save_library_block",
    "stage_shapes",
    "train",
    *_errors_all,
]
