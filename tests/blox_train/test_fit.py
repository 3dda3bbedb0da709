"""The one training loop: the recipe's optimizer built once, its per-epoch learning rate,
students that diverge stop, a frozen teacher feeding the loss, and the KD loss's value."""

from __future__ import annotations

import importlib
import math

import blox_train as bt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from blox_train.fit import EpochEnd, Meter, fit, kd_loss, make_optimizer, set_epoch_lr
from torch import nn

fit_module = importlib.import_module("blox_train.fit")  # `blox_train.fit` the attribute could be shadowed

RECIPE = bt.get_recipe("ci", {"epochs": 4})


def _data(num: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 4, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(num)]


def _students(num: int) -> list[nn.Module]:
    torch.manual_seed(0)
    return [nn.Linear(4, 3) for _ in range(num)]


def _ce(out: torch.Tensor, labels: torch.Tensor, _teacher: object) -> torch.Tensor:
    return F.cross_entropy(out, labels)


@pytest.fixture
def built(monkeypatch) -> list[torch.optim.Optimizer]:
    """Every optimizer make_optimizer builds, in order."""
    made: list[torch.optim.Optimizer] = []
    real = fit_module.make_optimizer

    def spy(params, recipe):
        made.append(real(params, recipe))
        return made[-1]

    monkeypatch.setattr(fit_module, "make_optimizer", spy)
    return made


def test_make_optimizer_is_the_recipes():
    recipe = bt.get_recipe("paper", {"nesterov": True})
    opt = make_optimizer(nn.Linear(2, 2).parameters(), recipe)
    assert isinstance(opt, torch.optim.SGD)
    assert {k: opt.defaults[k] for k in ("lr", "momentum", "weight_decay", "nesterov")} == {
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "nesterov": True,
    }


def test_set_epoch_lr_sets_every_group():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    opt = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[1].parameters()}], lr=1.0)
    assert set_epoch_lr(opt, RECIPE, 3) == RECIPE.lr_at(3)
    assert [g["lr"] for g in opt.param_groups] == [RECIPE.lr_at(3)] * 2


@pytest.mark.parametrize("start_epoch", [0, 2])
def test_one_optimizer_per_student_built_once_with_the_recipes_lr_per_epoch(built, start_epoch):
    lrs: list[list[float]] = []

    def after_epoch(end: EpochEnd) -> None:
        lrs.append([opt.param_groups[0]["lr"] for opt in built])

    result = fit(_students(2), RECIPE, lambda epoch: _data(), loss=_ce, after_epoch=after_epoch,
                 start_epoch=start_epoch)  # fmt: skip
    assert len(built) == 2  # once, not per epoch
    want = [RECIPE.lr_at(e) for e in range(start_epoch + 1, RECIPE.epochs + 1)]
    assert lrs == [[lr, lr] for lr in want]
    assert result.last_epoch == RECIPE.epochs and result.diverged == {}


def test_schedule_stretches_with_the_recipes_epochs(built):
    long = RECIPE.replace(epochs=10)
    lrs: list[float] = []
    fit(_students(1), long, lambda epoch: _data(1), loss=_ce,
        after_epoch=lambda end: lrs.append(built[0].param_groups[0]["lr"]))  # fmt: skip
    assert lrs == pytest.approx([long.lr_min + (long.lr - long.lr_min) * (1 + math.cos(math.pi * k / 10)) / 2
                                 for k in range(10)])  # fmt: skip


def test_given_optimizers_are_used_and_must_match(built):
    students = _students(1)
    opt = make_optimizer(students[0].parameters(), RECIPE)
    built.clear()
    fit(students, RECIPE, lambda epoch: _data(1), loss=_ce, after_epoch=lambda end: None, optimizers=[opt])
    assert built == [] and opt.param_groups[0]["lr"] == RECIPE.lr_at(RECIPE.epochs)
    with pytest.raises(bt.ConfigError, match="one each"):
        fit(_students(2), RECIPE, lambda epoch: _data(1), loss=_ce, after_epoch=lambda end: None,
            optimizers=[opt])  # fmt: skip
    with pytest.raises(bt.ConfigError, match="at least one student"):
        fit([], RECIPE, lambda epoch: _data(1), loss=_ce, after_epoch=lambda end: None)


def test_train_and_distill_build_their_optimizers_through_fit(monkeypatch):
    calls: list[int] = []
    real = fit_module.make_optimizer
    monkeypatch.setattr(fit_module, "make_optimizer", lambda p, r: calls.append(1) or real(p, r))
    train_module = importlib.import_module("blox_train.train")
    monkeypatch.setattr(train_module, "make_optimizer", fit_module.make_optimizer)
    # the distiller builds its candidates' optimizers up front (to checkpoint them) with fit's function
    monkeypatch.setattr(
        importlib.import_module("blox_train.distiller"), "make_optimizer", fit_module.make_optimizer
    )
    digits = bt.load_dataset("digits", resolution=8)
    bt.train(0, bt.get_recipe("ci", {"epochs": 2}), data=digits)
    assert len(calls) == 1
    teacher = bt.build_model(0, num_classes=10, width=4, resolution=8)
    batches = [(torch.randn(8, 3, 8, 8), torch.zeros(8, dtype=torch.long))] * 2
    bt.distill_stage(teacher, 0, [0, 1, 2], (batches, batches), recipe="ci", epochs=2)
    assert len(calls) == 1 + 3


def test_running_stats_are_the_epochs_weighted_means():
    data = _data(3)
    stats: list[EpochEnd] = []
    student = _students(1)[0]
    before = {k: v.clone() for k, v in student.state_dict().items()}
    losses: list[float] = []

    def loss(out, labels, _):
        value = F.cross_entropy(out, labels)
        losses.append(float(value.detach()))
        return value

    fit([student], RECIPE.replace(epochs=1), lambda epoch: data, loss=loss, after_epoch=stats.append)
    (end,) = stats
    assert end.epoch == 1 and end.alive == (True,) and end.seconds > 0
    assert end.stats[0].loss == pytest.approx(np.mean(losses))
    assert 0 <= end.stats[0].top1 <= end.stats[0].top5 <= 100
    assert any(not torch.equal(before[k], v) for k, v in student.state_dict().items())


def test_a_diverged_student_stops_and_the_loop_ends_when_none_is_left():
    students = _students(2)
    seen: list[tuple[int, tuple[bool, ...], float]] = []
    frozen: dict[str, torch.Tensor] = {}

    def after_epoch(end: EpochEnd):
        seen.append((end.epoch, end.alive, end.stats[0].loss))
        if end.epoch == 1:
            frozen.update({k: v.clone() for k, v in students[0].state_dict().items()})
            return {0: "went wrong"}
        return {1: "also"} if end.epoch == 3 else None

    result = fit(students, RECIPE, lambda epoch: _data(), loss=_ce, after_epoch=after_epoch)
    assert [s[:2] for s in seen] == [(1, (True, True)), (2, (False, True)), (3, (False, True))]
    assert all(math.isnan(loss) for _, _, loss in seen[1:])  # no stats for a stopped student
    assert result.last_epoch == 3 and result.diverged == {0: "went wrong", 1: "also"}
    assert all(torch.equal(frozen[k], v) for k, v in students[0].state_dict().items())  # not stepped again


class _Teacher(nn.Module):
    """A frozen classifier that counts its forward passes and remembers its mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear, self.calls, self.modes = nn.Linear(4, 3), 0, set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.modes.add(self.training)
        return self.linear(x)


def test_a_frozen_teacher_runs_once_per_batch_in_eval_mode_and_feeds_the_loss():
    torch.manual_seed(1)
    teacher = _Teacher().train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    data = _data(3)
    seen_teacher: list[torch.Tensor] = []

    def loss(out, labels, teacher_logits):
        seen_teacher.append(teacher_logits)
        return kd_loss(out, teacher_logits, labels)

    result = fit(_students(2), RECIPE.replace(epochs=2), lambda epoch: data, loss=loss,
                 after_epoch=lambda end: None, teacher=teacher, time_each_step=True)  # fmt: skip
    assert teacher.calls == 2 * len(data)  # shared by both students
    assert teacher.modes == {False}
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    with torch.no_grad():
        torch.testing.assert_close(seen_teacher[0], teacher.linear(data[0][0]))
    assert not seen_teacher[0].requires_grad
    assert (result.seconds > 0).all() and result.teacher_seconds > 0


def test_student_input_comes_from_the_teacher():
    seen: list[torch.Tensor] = []

    class Probe(nn.Linear):
        def forward(self, x):
            seen.append(x)
            return super().forward(x)

    teacher = nn.Linear(4, 4)
    student = Probe(4, 3)
    data = _data(1)
    fit([student], RECIPE.replace(epochs=1), lambda epoch: data, loss=_ce, after_epoch=lambda end: None,
        teacher=teacher, student_input=lambda images, t: 2 * t)  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(seen[0], 2 * teacher(data[0][0]))


# ------------------------------------------------------------------------------ kd_loss
def test_kd_loss_hand_computed():
    # sample 0: student uniform over 2 classes, teacher (1/4, 3/4), label 0
    #   CE = log 2, KL(t || s) = 1/4 log(1/2) + 3/4 log(3/2)
    # sample 1: student = teacher, label 1: CE = -log(3/4) = log(4/3), KL = 0
    student = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    teacher = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])
    labels = torch.tensor([0, 1])
    ce = (math.log(2.0) + math.log(4 / 3)) / 2
    kl = (0.25 * math.log(0.5) + 0.75 * math.log(1.5) + 0.0) / 2  # batchmean
    assert kd_loss(student, teacher, labels).item() == pytest.approx(0.1 * ce + 0.9 * kl, rel=1e-6)
    assert kd_loss(student, teacher, labels, alpha=0.0).item() == pytest.approx(ce, rel=1e-6)
    assert kd_loss(student, teacher, labels, alpha=1.0).item() == pytest.approx(kl, rel=1e-6)


def test_kd_loss_temperature_and_t2():
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 7, generator=gen).unbind(0)
    y = torch.randint(0, 7, (5,), generator=gen)
    p_t = torch.softmax(t / 2, dim=1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / 2, dim=1))).sum() / 5
    got = kd_loss(s, t, y, alpha=1.0, temperature=2.0)
    torch.testing.assert_close(got, kl)
    torch.testing.assert_close(kd_loss(s, t, y, alpha=1.0, temperature=2.0, scale_t2=True), 4 * kl)
    with pytest.raises(ValueError, match="kd_loss"):
        kd_loss(s, t, y, alpha=1.5)


def test_kd_loss_gradient_reaches_only_the_student():
    s = torch.randn(3, 4, requires_grad=True)
    t = torch.randn(3, 4, requires_grad=True)
    kd_loss(s, t, torch.tensor([0, 1, 2])).backward()
    assert s.grad is not None and t.grad is None


def test_meter_without_logits_tracks_the_loss_only():
    meter = Meter(torch.device("cpu"), has_logits=False)
    meter.update(torch.tensor(2.0), torch.zeros(4, 8, 2, 2), torch.zeros(4))
    meter.update(torch.tensor(5.0), torch.zeros(2, 8, 2, 2), torch.zeros(2))
    loss, top1, top5 = meter.result()
    assert loss == pytest.approx((2 * 4 + 5 * 2) / 6) and math.isnan(top1) and math.isnan(top5)
