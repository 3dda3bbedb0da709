from __future__ import annotations

import json

import blox_space as bs
import numpy as np
import pytest
from blox_space.errors import (
    ArchShapeError,
    BlockIdError,
    FlagError,
    IndexOutOfRangeError,
    InvalidArchitectureError,
    InvalidCellError,
    NameParseError,
    OpOutOfRangeError,
    UnknownHashError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# facts §1.7, verified with the original code
VECTORS = [
    ([[[0], [0, 1, 0, 0]]] * 3, 0, "39554afd1b33a44663e653ad10137b9a"),
    ([[[1], [0, 1, 0, 0]], [[0], [0, 1, 0, 0]], [[0], [0, 1, 0, 0]]], 1, "608cbd138efc765f416179ef531470b2"),
    ([[[0], [0, 1, 0, 0]], [[1], [0, 1, 0, 0]], [[0], [0, 1, 0, 0]]], 45, "4f75e0ee8dddc632bec18fd53664767f"),
    (
        [[[0], [0, 1, 0, 0]], [[0], [0, 1, 0, 0]], [[1], [0, 1, 0, 0]]],
        2025,
        "ea74101bc3599c80d54e04be240adc6a",
    ),
    (
        [[[0], [1, 1, 1, 1]], [[1], [1, 1, 0, 0]], [[0], [0, 1, 1, 0]]],
        24519,
        "c3bc16e69893c8ea08f1e89e61f4caa5",
    ),
    (
        [[[0], [1, 0, 1, 0]], [[0], [2, 0, 1, 0]], [[0], [0, 0, 1, 0]]],
        18730,
        "2ffcc22a6a09cd9cd25d99b80d237e11",
    ),
    ([[[2], [2, 1, 1, 1]]] * 3, 91124, "8727035c55e96f431cf0268cb2bb878c"),
]


@pytest.mark.parametrize(("vec", "index", "hash_"), VECTORS)
def test_facts_vectors(vec, index, hash_):
    assert bs.to_index(vec) == index
    assert bs.to_hash(vec) == hash_
    assert bs.to_hash(index) == hash_
    assert bs.to_index(hash_) == index
    assert bs.to_arch_vec(index) == vec  # these are the canonical spellings


def test_non_canonical_spellings_map_to_the_canonical_block():
    single_classes = [[[1], [0, 0, 0, 1]], [[2], [0, 0, 0, 1]], [[0], [0, 0, 0, 1]]]
    assert bs.to_hash(single_classes) == "2ffcc22a6a09cd9cd25d99b80d237e11"
    assert bs.to_index(single_classes) == 18730
    rest = [[[0], [0, 1, 0, 0]]] * 2
    a = bs.to_hash([[[0], [1, 0, 1, 1]], *rest])
    b = bs.to_hash([[[1], [0, 0, 1, 1]], *rest])
    assert a == b == "588f5d84335c2f2b0dfd7e0bfc34b5ff"


def test_flat_15_int_arch_vector():
    assert bs.to_index([0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0]) == 24519


blocks_st = st.tuples(*[st.integers(0, 44)] * 3)
raw_cell_st = st.tuples(
    st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)
).filter(lambda c: c[2] or c[3] or c[4])


@given(blocks_st)
def test_round_trips_through_every_form(blocks):
    index = bs.to_index(blocks)
    assert bs.to_blocks(index) == blocks
    assert bs.to_blocks(bs.to_arch_vec(index)) == blocks
    assert bs.to_blocks(bs.to_name(index)) == blocks
    assert bs.to_blocks(bs.to_hash(index)) == blocks
    assert bs.to_blocks(json.dumps(bs.to_arch_vec(index))) == blocks
    assert bs.to_blocks(json.dumps(list(blocks))) == blocks
    assert bs.to_blocks(str(index)) == blocks
    assert bs.to_blocks(np.int64(index)) == blocks
    assert bs.to_blocks(np.array(blocks)) == blocks


@given(st.tuples(raw_cell_st, raw_cell_st, raw_cell_st))
def test_every_raw_spelling_is_accepted_and_canonicalises(cells):
    vec = [[[c[0]], list(c[1:])] for c in cells]
    blocks = bs.to_blocks(vec)
    canonical = bs.to_arch_vec(blocks)
    assert bs.to_blocks(canonical) == blocks
    assert bs.to_hash(vec) == bs.to_hash(canonical)


@given(st.text(alphabet=" |<>+cnovmbipreus", max_size=40))
def test_name_parser_never_crashes_with_anything_but_a_typed_error(text):
    try:
        bs.to_blocks(text)
    except InvalidArchitectureError:
        pass


def test_parallel_names_accept_both_orders():
    assert bs.parse_name("conv||mbconv | conv | conv") == bs.parse_name("mbconv||conv|conv|conv")


def test_vectorised_conversions():
    idx = np.array([0, 1, 45, 2025, 24519, 91124])
    blocks = bs.indices_to_blocks(idx)
    assert blocks.shape == (6, 3)
    assert (bs.blocks_to_indices(blocks) == idx).all()
    hashes = [bs.to_hash(int(i)) for i in idx]
    assert (bs.hashes_to_indices(hashes) == idx).all()
    assert bs.hashes_to_indices(np.array(hashes).reshape(2, 3)).shape == (2, 3)


@pytest.mark.parametrize(
    ("arch", "error", "fragment"),
    [
        ([[[0], [0, 1, 0, 0]]] * 2, ArchShapeError, "3 stages"),
        ([[[0], [0, 1, 0]]] * 3, ArchShapeError, "node 1"),
        ([[[0, 1], [0, 1, 0, 0]]] * 3, ArchShapeError, "node 0"),
        ([[0, [0, 1, 0, 0]]] * 3, ArchShapeError, "node 0"),
        ([[[3], [0, 1, 0, 0]]] * 3, OpOutOfRangeError, "0=conv, 1=mbconv, 2=bconv"),
        ([[[0], [-1, 1, 0, 0]]] * 3, OpOutOfRangeError, "node 1"),
        ([[[0], [0, 2, 0, 0]]] * 3, FlagError, "must be 0 or 1"),
        ([[[0], [0, 1, 0, 0]], [[0], [0, 0, 0, 0]], [[0], [0, 1, 0, 0]]], InvalidCellError, "stage 1"),
        (91125, IndexOutOfRangeError, "0..91124"),
        (-1, IndexOutOfRangeError, "0..91124"),
        ((0, 45, 0), BlockIdError, "0..44"),
        ("0" * 32, UnknownHashError, "none of the 91,125"),
        ("conv>conv | conv", NameParseError, "3 block names"),
        ("conv>conv | conv | vit", NameParseError, "unknown block name"),
        ("[[[0], [0, 1, 0, 0]]", NameParseError, "JSON"),
        (3.5, InvalidArchitectureError, "cannot read"),
        (None, InvalidArchitectureError, "cannot read"),
    ],
)
def test_invalid_input_raises_the_typed_error_saying_what_is_allowed(arch, error, fragment):
    with pytest.raises(error) as info:
        bs.to_index(arch)
    assert fragment in str(info.value)


def test_errors_are_value_errors_and_blox_errors():
    with pytest.raises(ValueError):
        bs.to_index(10**6)
    with pytest.raises(bs.BloxError):
        bs.to_hash("f" * 32)
    with pytest.raises(KeyError):
        bs.hashes_to_indices(["f" * 32])


def test_vectorised_errors():
    with pytest.raises(IndexOutOfRangeError):
        bs.indices_to_blocks([0, 91125])
    with pytest.raises(BlockIdError):
        bs.blocks_to_indices([[0, 0, 45]])
    with pytest.raises(ArchShapeError):
        bs.blocks_to_indices([[0, 0]])
    with pytest.raises(UnknownHashError, match="32 hex digits"):
        bs.hashes_to_indices(["nothex"])


@settings(max_examples=50)
@given(st.integers(0, bs.NUM_MODELS - 1))
def test_describe_is_consistent(index):
    info = bs.describe(index)
    assert info["index"] == index
    assert info["hash"] == bs.to_hash(index)
    assert info["params"] == bs.model_params(index)
    assert info["name"] == bs.to_name(index)
    assert {"index", "hash", "blocks", "arch_vec", "name", "params", "macs", "depth"} <= set(info)
