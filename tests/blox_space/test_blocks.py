from __future__ import annotations

import blox_space as bs
from blox_space.blocks import RAW_CELL_TO_BLOCK, raw_cell_position

# Flat odometer position of each block's canonical cell, by block id (facts §1.6 table).
FACTS_FLAT_POSITIONS = [
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    21,
    24,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    45,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    58,
    59,
    62,
    63,
    64,
    65,
    66,
    67,
    68,
    69,
    70,
    71,
]
FACTS_MEANINGS = {
    0: "conv>conv",
    9: "conv",
    10: "mbconv",
    11: "bconv",
    12: "conv>conv+inp",
    21: "conv>conv+res",
    30: "conv||conv",
    31: "mbconv||conv",
    35: "bconv||bconv",
    36: "conv>conv+inp+res",
    44: "bconv>bconv+inp+res",
}


def test_there_are_45_blocks_in_the_original_order():
    assert len(bs.BLOCKS) == bs.NUM_BLOCKS == 45
    positions = [raw_cell_position(b.cell[0][0], *b.cell[1]) for b in bs.BLOCKS]
    assert positions == FACTS_FLAT_POSITIONS
    for block_id, name in FACTS_MEANINGS.items():
        assert bs.BLOCKS[block_id].name == name


def test_72_raw_cells_9_invalid_63_valid_collapse_to_45():
    assert len(RAW_CELL_TO_BLOCK) == 72
    assert (RAW_CELL_TO_BLOCK < 0).sum() == 9
    assert len(set(RAW_CELL_TO_BLOCK[RAW_CELL_TO_BLOCK >= 0].tolist())) == 45


def test_six_schemes_with_the_expected_counts():
    counts = {s: sum(b.scheme == s for b in bs.BLOCKS) for s in bs.SCHEMES}
    assert counts == {"single": 3, "parallel": 6, "seq": 9, "seq+inp": 9, "seq+res": 9, "seq+inp+res": 9}


def test_names_are_unique_and_parallel_puts_larger_op_first():
    names = [b.name for b in bs.BLOCKS]
    assert len(set(names)) == 45
    for block in bs.BLOCKS:
        if block.scheme == "parallel":
            assert block.ops[0] >= block.ops[1]


def test_depth_spans_4_to_36_layers():
    depths = [b.depth for b in bs.BLOCKS]
    assert min(depths) == 4 and max(depths) == 36


def test_block_nodes_match_the_minimised_node_lists():
    # facts §1.6: rank 9 (single conv) -> [[0,1,0,0]]; rank 12 -> [[0,1,0,0],[0,1,1,0]]
    assert bs.BLOCKS[9].nodes == ((0, 1, 0, 0),)
    assert bs.BLOCKS[12].nodes == ((0, 1, 0, 0), (0, 1, 1, 0))
    assert bs.BLOCKS[31].nodes == ((1, 1, 0, 0), (0, 0, 1, 1))
