"""Blockwise distillation: the NSR loss, one shared teacher pass per batch, a frozen teacher,
determinism, the block library round trip, student assembly and the LANA signature."""

from __future__ import annotations

import blox_train as bt
import numpy as np
import pytest
import torch
from blox_train.network import Stage

WIDTH, RESOLUTION, CLASSES = 4, 8, 10
TEACHER_BLOCKS = (3, 7, 12)
CANDIDATES = (3, 0, 10)


def _teacher(block_ids=TEACHER_BLOCKS) -> bt.BloxNet:
    """A random teacher whose BatchNorm statistics were measured on random images, so its stage
    outputs vary like a trained model's (default statistics make them nearly constant)."""
    torch.manual_seed(0)
    teacher = bt.build_model(block_ids, num_classes=CLASSES, width=WIDTH, resolution=RESOLUTION)
    for module in teacher.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average
    gen = torch.Generator().manual_seed(1)
    teacher.train()
    with torch.no_grad():
        for _ in range(4):
            teacher(torch.randn(64, 3, RESOLUTION, RESOLUTION, generator=gen))
    return teacher.eval()


def _batches(num: int, seed: int, size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(size, 3, RESOLUTION, RESOLUTION, generator=gen),
            torch.randint(0, CLASSES, (size,), generator=gen),
        )
        for _ in range(num)
    ]


@pytest.fixture(scope="module")
def teacher() -> bt.BloxNet:
    return _teacher()


@pytest.fixture(scope="module")
def data():
    return _batches(4, seed=2), _batches(2, seed=3)


@pytest.fixture(scope="module")
def result(teacher, data) -> bt.DistillResult:
    return bt.distill_stage(teacher, 1, CANDIDATES, data, recipe="ci", epochs=2, seed=0)


# ------------------------------------------------------------------------------ nsr_loss
def test_nsr_hand_computed():
    # channel 0: teacher 1, 3, 5, 7 (var 5), student 0 -> MSE 21 -> 4.2
    # channel 1: teacher 2, 2, 2, 4 (var 0.75), student 2 -> MSE 1 -> 4/3
    teacher = torch.tensor([[[[1.0, 3.0]], [[2.0, 2.0]]], [[[5.0, 7.0]], [[2.0, 4.0]]]])
    student = torch.tensor([[[[0.0, 0.0]], [[2.0, 2.0]]], [[[0.0, 0.0]], [[2.0, 2.0]]]])
    assert teacher.shape == (2, 2, 1, 2)
    assert bt.nsr_loss(student, teacher).item() == pytest.approx((4.2 + 4 / 3) / 2, rel=1e-6)
    assert bt.nsr_loss(teacher, teacher).item() == 0.0


@pytest.mark.parametrize("factor", [0.1, 0.5, 3.0, 1000.0])
def test_nsr_scale_invariant(factor):
    gen = torch.Generator().manual_seed(0)
    teacher, student = torch.randn(2, 6, 8, 3, 3, generator=gen).unbind(0)
    base = bt.nsr_loss(student, teacher).item()
    assert bt.nsr_loss(student * factor, teacher * factor).item() == pytest.approx(base, rel=1e-5)


def test_nsr_zero_variance_is_finite_and_gradient_reaches_only_student():
    teacher = torch.ones(4, 2, 3, 3, requires_grad=True)
    student = torch.zeros(4, 2, 3, 3, requires_grad=True)
    loss = bt.nsr_loss(student, teacher)
    assert torch.isfinite(loss)
    loss.backward()
    assert student.grad is not None and teacher.grad is None


def test_nsr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="nsr_loss"):
        bt.nsr_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 2, 2))


# ------------------------------------------------------------------------------ distill_stage
def test_result_shapes_and_modules(result):
    assert result.stage == 1 and result.block_ids == CANDIDATES
    assert result.train_nsr.shape == result.val_nsr.shape == (3, 2)
    assert np.isfinite(result.train_nsr).all() and np.isfinite(result.val_nsr).all()
    assert result.seconds.shape == (3,) and (result.seconds > 0).all() and result.teacher_seconds > 0
    np.testing.assert_array_equal(result.donna_signature, result.val_nsr[:, -1])
    assert (result.teacher_block_ids, result.width, result.resolution, result.num_classes) == (
        TEACHER_BLOCKS,
        WIDTH,
        RESOLUTION,
        CLASSES,
    )
    assert result.recipe_id == bt.get_recipe("ci", {"epochs": 2}).id
    for block, state in zip(CANDIDATES, result.states, strict=True):
        reference = bt.build_model(
            (block,) * 3, num_classes=CLASSES, width=WIDTH, resolution=RESOLUTION
        ).stages[1]
        assert {k: v.shape for k, v in state.items()} == {
            k: v.shape for k, v in reference.state_dict().items()
        }
        module = result.module(block)
        assert isinstance(module, Stage) and not module.training


def test_nsr_decreases_on_digits():
    teacher = _teacher()
    splits = bt.load_dataset("digits", resolution=RESOLUTION)
    result = bt.distill_stage(teacher, 0, [TEACHER_BLOCKS[0], 10], splits, recipe="ci", epochs=3)
    assert (result.train_nsr[:, -1] < result.train_nsr[:, 0]).all()
    assert (result.val_nsr[:, -1] < result.val_nsr[:, 0]).all()


def test_resident_batches_and_recipe_objects():
    teacher = _teacher()
    splits = bt.load_dataset("synthetic", resolution=RESOLUTION)
    recipe = bt.get_recipe("ci", {"dataset": "synthetic", "augment": "batch-crop", "batch_size": 128})
    result = bt.distill_stage(teacher, 2, [1], splits, recipe=recipe, epochs=1)
    assert np.isfinite(result.val_nsr).all()
    assert result.recipe_id == recipe.replace(epochs=1).id


def test_teacher_frozen_and_left_in_eval_mode(data):
    teacher = _teacher()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    teacher.train()
    bt.distill_stage(teacher, 0, [0, 1], data, recipe="ci", epochs=1)
    assert not any(m.training for m in teacher.modules())
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in teacher.parameters())


def test_one_teacher_pass_per_batch_shared_by_candidates(data):
    teacher = _teacher()
    calls = [0] * 3
    handles = [
        teacher.stages[s].register_forward_hook(lambda *_, s=s: calls.__setitem__(s, calls[s] + 1))
        for s in range(3)
    ]
    try:
        bt.distill_stage(teacher, 1, CANDIDATES, data, recipe="ci", epochs=2)
    finally:
        for handle in handles:
            handle.remove()
    batches_per_epoch = len(data[0]) + len(data[1])
    dead_channel_pass = len(data[1])  # once over the validation split, before training
    expected = 2 * batches_per_epoch + dead_channel_pass
    assert calls == [expected, expected, 0]  # later stages never run


def test_deterministic(teacher, data, result):
    again = bt.distill_stage(teacher, 1, CANDIDATES, data, recipe="ci", epochs=2, seed=0)
    np.testing.assert_array_equal(again.train_nsr, result.train_nsr)
    np.testing.assert_array_equal(again.val_nsr, result.val_nsr)
    for a, b in zip(again.states, result.states, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_candidates_do_not_depend_on_each_other(teacher, data, result):
    alone = bt.distill_stage(teacher, 1, [CANDIDATES[1]], data, recipe="ci", epochs=2, seed=0)
    np.testing.assert_array_equal(alone.val_nsr[0], result.val_nsr[1])


def test_seed_and_lr_change_the_run(teacher, data, result):
    other = bt.distill_stage(teacher, 1, CANDIDATES[:1], data, recipe="ci", epochs=2, seed=1, lr=0.01)
    assert not np.array_equal(other.val_nsr[0], result.val_nsr[0])
    assert other.recipe_id != result.recipe_id


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stage": 3}, "stage 3 is out of range"),
        ({"blocks": [45]}, "block id 45 is out of range"),
        ({"blocks": [1, 1]}, "distinct"),
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"data": ([],)}, "data must be"),
    ],
)
def test_bad_input_raises_config_error(teacher, data, kwargs, match):
    args = {"stage": 0, "blocks": [0], "data": data} | kwargs
    options = {k: v for k, v in kwargs.items() if k in ("epochs", "lr")}
    with pytest.raises(bt.ConfigError, match=match):
        bt.distill_stage(teacher, args["stage"], args["blocks"], args["data"], recipe="ci", **options)


def test_teacher_must_be_a_blox_net(data):
    with pytest.raises(bt.ConfigError, match="BloxNet"):
        bt.distill_stage(torch.nn.Linear(2, 2), 0, [0], data, recipe="ci", epochs=1)


# ------------------------------------------------------------------------------ library and student
def test_library_round_trip(tmp_path, teacher, data, result):
    first = bt.distill_stage(teacher, 0, [5], data, recipe="ci", epochs=1)
    path = bt.save_block_library(tmp_path / "library.pt", [first, result])
    library = bt.load_block_library(path)
    assert [r.stage for r in library.results] == [0, 1]
    loaded = library.stage(1)
    for name in (
        "block_ids",
        "stage",
        "recipe_id",
        "seed",
        "teacher_block_ids",
        "width",
        "resolution",
        "num_classes",
    ):
        assert getattr(loaded, name) == getattr(result, name)
    np.testing.assert_array_equal(loaded.val_nsr, result.val_nsr)
    np.testing.assert_array_equal(loaded.train_nsr, result.train_nsr)
    x = torch.randn(5, WIDTH * 2, RESOLUTION // 2, RESOLUTION // 2)
    with torch.no_grad():
        for block in CANDIDATES:
            assert torch.equal(loaded.module(block)(x), result.module(block)(x))
    with pytest.raises(bt.ConfigError, match="stage 2 is not in the block library"):
        library.stage(2)


def test_load_rejects_other_files_and_versions(tmp_path, result):
    torch.save({"format": "something"}, tmp_path / "other.pt")
    with pytest.raises(bt.ConfigError, match="not a Blox block library"):
        bt.load_block_library(tmp_path / "other.pt")
    payload = torch.load(bt.save_block_library(tmp_path / "lib.pt", result), weights_only=True)
    torch.save(payload | {"version": 99}, tmp_path / "future.pt")
    with pytest.raises(bt.ConfigError, match="version 99"):
        bt.load_block_library(tmp_path / "future.pt")


def test_unknown_block_in_result(result):
    with pytest.raises(bt.ConfigError, match="block 44 was not distilled at stage 1"):
        result.module(44)


def test_library_holds_one_teacher(data, result):
    other = bt.distill_stage(_teacher((0, 0, 0)), 0, [0], data, recipe="ci", epochs=1)
    with pytest.raises(bt.ConfigError, match="one teacher"):
        bt.BlockLibrary((other, result))


def test_assemble_student(teacher, result):
    arch = (TEACHER_BLOCKS[0], CANDIDATES[2], TEACHER_BLOCKS[2])
    student = bt.assemble_student(teacher, result, arch)
    assert student.block_ids == arch and not student.training
    for name in ("stem", "classifier"):
        ours, theirs = getattr(student, name).state_dict(), getattr(teacher, name).state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    distilled = result.states[CANDIDATES.index(arch[1])]
    assert all(torch.equal(student.stages[1].state_dict()[k], distilled[k]) for k in distilled)
    kept = teacher.stages[0].state_dict()
    assert all(torch.equal(student.stages[0].state_dict()[k], kept[k]) for k in kept)
    teacher_params = {id(p) for p in teacher.parameters()}
    assert not any(id(p) in teacher_params for p in student.parameters())  # nothing shared
    with pytest.raises(bt.ConfigError, match="block 44 at stage 1 is not in the block library"):
        bt.assemble_student(teacher, result, (TEACHER_BLOCKS[0], 44, TEACHER_BLOCKS[2]))
    with pytest.raises(bt.ConfigError, match="distilled from teacher"):
        bt.assemble_student(_teacher((0, 0, 0)), result, arch)


def test_distill_all_stages_returns_library(teacher, data):
    library = bt.distill(teacher, data, stages=(0, 2), blocks=[0], recipe="ci", epochs=1)
    assert isinstance(library, bt.BlockLibrary) and [r.stage for r in library.results] == [0, 2]


# ------------------------------------------------------------------------------ LANA
def test_lana_signature(teacher, data, result):
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    own = bt.lana_signature(teacher, 1, teacher.stages[1], data[1])
    assert own == 0.0
    change = bt.lana_signature(teacher, 1, result.module(CANDIDATES[0]), data[1])
    assert isinstance(change, float) and -100.0 <= change <= 100.0
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    with pytest.raises(bt.ConfigError, match="stage 5"):
        bt.lana_signature(teacher, 5, teacher.stages[1], data[1])


def test_lana_signatures_of_a_result(teacher, data, result):
    signatures = bt.lana_signatures(teacher, result, data[1])
    assert signatures.shape == (len(CANDIDATES),)
    expected = [bt.lana_signature(teacher, 1, result.module(b), data[1]) for b in CANDIDATES]
    np.testing.assert_array_equal(signatures, expected)
    with pytest.raises(bt.ConfigError, match="distilled from teacher"):
        bt.lana_signatures(_teacher((0, 0, 0)), result, data[1])
