"""Schema of the **space** store: every block and every model of the search space at one
network geometry (``blox-space enumerate``; written by :func:`blox_space.space.build_space_store`)."""

from __future__ import annotations

from .spec import BLOCK, MODEL, STAGE, ArraySpec, StoreSpec, register_store_kind

__all__ = ["SPACE", "CELL_FIELD"]

CELL_FIELD = ArraySpec("cell_field", ("cell_field",), "<U8", "1", "raw cell fields: op0 op1 prev input sc")

SPACE = register_store_kind(
    StoreSpec(
        kind="space",
        coords=(MODEL, STAGE, BLOCK, CELL_FIELD),
        arrays=(
            ArraySpec("block_name", ("block",), "<U24", "1", "readable block name"),
            ArraySpec("block_scheme", ("block",), "<U12", "1", "connectivity scheme of the block"),
            ArraySpec("block_cell", ("block", "cell_field"), "int8", "1", "canonical raw cell of the block"),
            ArraySpec("block_depth", ("block",), "int64", "1", "conv layers on the longest path of the cell"),
            ArraySpec(
                "block_params",
                ("stage", "block"),
                "int64",
                "1",
                "trainable parameters of the cell at this stage",
            ),
            ArraySpec(
                "block_macs",
                ("stage", "block"),
                "int64",
                "1",
                "multiply-accumulates of the cell at this stage, batch 1",
            ),
            ArraySpec("block_ids", ("model", "stage"), "int8", "1", "block id per stage"),
            ArraySpec("hash", ("model",), "<U32", "1", "original md5 model hash"),
            ArraySpec("name", ("model",), "<U80", "1", "readable model name"),
            ArraySpec("params", ("model",), "int64", "1", "trainable parameters of the model"),
            ArraySpec("macs", ("model",), "int64", "1", "multiply-accumulates per image (ptflops semantics)"),
            ArraySpec("depth", ("model",), "int64", "1", "conv/linear layers on the longest path"),
            ArraySpec("is_uniform", ("model",), "bool", "1", "same block in every stage"),
        ),
        chunks={"model": 91125 // 5},
        required_attrs=("width", "resolution", "num_classes", "fixed_params", "fixed_macs"),
    )
)
