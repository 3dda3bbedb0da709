"""Two-phase (FT10 -> FT200) and iterative-teacher searches (paper Q5, Q6; SPEC §7a): every paid
evaluation charged exactly once, the switch at the phase-one budget, the phase-two teacher, the
teacher-picking rule, the target, and resuming a killed search to the identical trajectory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blox_search import (
    BlockwiseEvaluator,
    CostModel,
    Evaluation,
    TabularEvaluator,
    UnknownAlgorithmError,
    get_algorithm,
    list_algorithms,
    open_search,
    run_search,
)
from blox_search import runner as runner_module
from blox_search.blockwise.phases import IterativeTeacherSearch, TwoPhaseSearch
from blox_search.testing import synthetic_blockwise
from blox_space.errors import ConfigError
from blox_space.store import open_store

SHORT, LONG = 2, 4  # synthetic_blockwise's FT lengths
PHASE_ONE = 5.0  # FTE: one-time costs (~1.5 FTE) + ~19 FT2 runs of the 60 students
BUDGET = 15.0


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return synthetic_blockwise(tmp_path_factory.mktemp("phases"))


@pytest.fixture(scope="module")
def cost(stores):
    return CostModel.from_benchmark(stores["benchmark"])


def _evaluator(stores, teacher):
    return BlockwiseEvaluator(
        stores["benchmark"], finetune=stores["finetune"], blockwise=stores["blockwise"], teacher=teacher
    )


@pytest.fixture(scope="module")
def by_teacher(stores):
    return {name: _evaluator(stores, name) for name in ("M1", "M5")}


def _run(algorithm, evaluator, cost, budget=BUDGET, **kwargs):
    (traj,) = run_search(algorithm, evaluator, budget_fte=budget, seeds=[0], cost=cost, **kwargs)
    return traj


def _phase_two_start(traj):
    return int(np.flatnonzero(traj.fidelity != SHORT)[0])


CASES = {
    "two_phase M1": ("M1", "two_phase", {}),
    "two_phase M5": ("M5", "two_phase", {}),
    "two_phase M5 then M1": ("M5", "two_phase", {"retrain_teacher": "M1"}),
    "two_phase M5 then normal": ("M5", "two_phase", {"retrain_teacher": "normal"}),
    "iterative from M5": ("M5", "iterative_teacher", {"top_k": 8}),
}


@pytest.fixture(scope="module")
def runs(by_teacher, cost):
    out = {}
    for key, (teacher, name, params) in CASES.items():
        algorithm = get_algorithm(name, phase_one_fte=PHASE_ONE, **params)
        out[key] = _run(algorithm, by_teacher[teacher], cost)
    return out


def test_registered_with_valid_defaults():
    assert {"two_phase", "iterative_teacher"} <= set(list_algorithms())
    for cls, name in ((TwoPhaseSearch, "two_phase"), (IterativeTeacherSearch, "iterative_teacher")):
        algorithm = get_algorithm(name)
        assert isinstance(algorithm, cls) and algorithm.multi_fidelity
        assert set(algorithm.get_params()) == set(algorithm.param_names())
        assert algorithm.phase_one_fte == 30.0 and algorithm.inner == "re"


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("two_phase", {"inner": "hyperband"}, "single-fidelity"),
        ("two_phase", {"inner": "pareto_re"}, "multi-objective"),
        ("two_phase", {"inner_params": {"fidelity": 2}}, "may not set fidelity"),
        ("two_phase", {"inner_params": {"population_size": 0}}, "population_size"),
        ("two_phase", {"inner_params": {"nope": 1}}, "unknown parameter"),
        ("two_phase", {"phase_one_fte": 0}, "phase_one_fte"),
        ("two_phase", {"short_ft": 4, "long_ft": 2}, "must be <= long_ft"),
        ("two_phase", {"target": math.nan}, "target"),
        ("iterative_teacher", {"top_k": 0}, "top_k"),
        ("iterative_teacher", {"max_iterations": 0}, "max_iterations"),
    ],
)
def test_bad_parameters(name, params, match):
    with pytest.raises(ConfigError, match=match):
        get_algorithm(name, **params)


def test_unknown_inner_algorithm():
    with pytest.raises(UnknownAlgorithmError):
        get_algorithm("two_phase", inner="nope")


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("two_phase", {"teacher": "M3"}, "teacher 'M3' is not a source"),
        ("two_phase", {"retrain_teacher": "M3"}, "retrain_teacher 'M3'"),
        ("two_phase", {"teacher": "normal"}, "teacher 'normal' is not a source"),
        ("two_phase", {"short_ft": 3}, "short_ft 3 is not offered"),
        ("two_phase", {"short_ft": 4}, "would repeat phase one"),
    ],
)
def test_bad_parameters_for_the_evaluator(by_teacher, cost, name, params, match):
    with pytest.raises(ConfigError, match=match):
        _run(get_algorithm(name, **params), by_teacher["M1"], cost)


def test_iterative_needs_a_blockwise_evaluator(stores, cost):
    with pytest.raises(ConfigError, match="needs a blockwise evaluator"):
        _run(get_algorithm("iterative_teacher"), TabularEvaluator(stores["benchmark"]), cost)


def test_two_phase_on_epochs_of_a_benchmark_store(stores, cost):
    """On a one-source evaluator, the scheme is "a few epochs, then full training"."""
    ev = TabularEvaluator(stores["benchmark"])
    traj = _run(get_algorithm("two_phase", phase_one_fte=1.0, inner="random"), ev, cost, budget=3.0)
    k = int(np.flatnonzero(traj.fidelity != ev.fidelities[0])[0])
    assert set(traj.fidelity[:k].tolist()) == {ev.fidelities[0]}
    assert set(traj.fidelity[k:].tolist()) == {ev.fidelities[-1]}


@pytest.mark.parametrize("key", list(CASES))
def test_every_paid_evaluation_is_charged_exactly_once(runs, by_teacher, key):
    traj = runs[key]
    evaluator = by_teacher[CASES[key][0]]
    one_time = sum(evaluator.one_time_costs().values())
    # cumulative cost: the one-time costs, then every evaluation's cost, summed in order
    expected = np.cumsum(np.concatenate([[one_time], traj.cost_s]))[1:]
    np.testing.assert_allclose(traj.cum_cost_s, expected, rtol=1e-12)
    assert traj.cum_cost_s[-1] == pytest.approx(one_time + traj.cost_s[~traj.is_repeat].sum(), rel=1e-12)
    assert np.all(traj.cost_s[traj.is_repeat] == 0)
    # each (model, source, fidelity) is paid once: no repeats at all here, every run distinct
    paid = list(zip(traj.model.tolist(), traj.source.tolist(), traj.fidelity.tolist()))
    assert not traj.is_repeat.any() and len(set(paid)) == len(paid)
    # and each costs what it recorded: FT seconds, a normal training, plus a teacher's setup once
    sources = evaluator.sources
    teachers = evaluator.describe()["teachers"]
    first_use = {}
    for i, (_, source, fidelity) in enumerate(paid):
        name = sources[source]
        if name == "normal":
            assert traj.cost_s[i] > 0
            continue
        setup = 0.0
        if source != 0 and name not in first_use:
            first_use[name] = i
            setup = teachers[name]["library_s"] + teachers[name]["training_s"]
        assert traj.cost_s[i] == pytest.approx(10.0 * fidelity + setup)
    assert traj.stop_reason in ("budget", "finished")
    if traj.stop_reason == "budget":
        assert traj.cum_fte[-1] >= BUDGET > traj.cum_fte[-2]


def test_phase_switch_at_the_phase_one_budget_and_rank_order(runs):
    traj = runs["two_phase M1"]
    k = _phase_two_start(traj)
    # phase one: the short FT length, the phase-one teacher, until the phase-one budget is crossed
    assert np.all(traj.fidelity[:k] == SHORT) and np.all(traj.source == 0)
    assert traj.cum_fte[k - 1] >= PHASE_ONE > traj.cum_fte[k - 2]
    # phase two: the models found, by phase-one search metric (first found on ties), at FT4
    first = {}
    for model, metric in zip(traj.model[:k].tolist(), traj.search_metric[:k].tolist()):
        first.setdefault(model, metric)
    ranking = sorted(first, key=lambda m: -first[m])
    assert np.all(traj.fidelity[k:] == LONG)
    assert traj.model[k:].tolist() == ranking[: len(traj) - k]
    # the budget let it retrain every model found: then it returned
    assert traj.stop_reason == "finished" and len(traj) - k == len(ranking)


def test_phase_two_starts_at_once_when_the_inner_search_finishes(by_teacher, cost):
    ev = by_teacher["M1"]
    traj = _run(get_algorithm("two_phase", phase_one_fte=900.0), ev, cost, budget=1000.0)
    k = _phase_two_start(traj)
    assert k == len(ev.candidates) and sorted(traj.model[:k].tolist()) == ev.candidates.tolist()
    assert traj.cum_fte[k - 1] < 900.0 and traj.stop_reason == "finished"
    assert sorted(traj.model[k:].tolist()) == ev.candidates.tolist()


def test_retrain_teacher_routes_phase_two(runs, by_teacher):
    sources = by_teacher["M5"].sources
    same, good, normal = runs["two_phase M5"], runs["two_phase M5 then M1"], runs["two_phase M5 then normal"]
    k = _phase_two_start(same)
    # phase one is the same search whatever phase two does
    for traj in (good, normal):
        assert _phase_two_start(traj) == k
        assert np.array_equal(traj.model[:k], same.model[:k]) and np.all(traj.source[:k] == 0)
    assert np.all(same.source[k:] == 0)
    assert np.all(good.source[k:] == sources.index("M1")) and np.all(good.fidelity[k:] == LONG)
    assert np.all(normal.source[k:] == sources.index("normal"))
    assert good.model[k:].tolist() == same.model[k : k + len(good) - k].tolist()


def test_target_stops_phase_two(by_teacher, cost, runs):
    base = runs["two_phase M5 then M1"]
    k = _phase_two_start(base)
    rises = [i for i in range(k, len(base)) if base.incumbent_search[i] > base.incumbent_search[i - 1]]
    j = rises[-1]  # the last step that improved the incumbent: the target is reached there
    target = float(base.incumbent_search[j])
    algorithm = get_algorithm("two_phase", phase_one_fte=PHASE_ONE, retrain_teacher="M1", target=target)
    traj = _run(algorithm, by_teacher["M5"], cost)
    assert traj.stop_reason == "finished" and len(traj) == j + 1
    assert np.array_equal(traj.model, base.model[: j + 1])


def test_iterative_from_a_bad_teacher_on_the_synthetic_stores(runs, by_teacher, stores):
    """M5 starts; the 8 best candidates are trained normally; M1 (the best student) is among them
    and teaches: the candidates are fine-tuned with it (its setup paid with the first) until the
    budget."""
    traj = runs["iterative from M5"]
    sources = by_teacher["M5"].sources
    k = _phase_two_start(traj)
    first = {}
    for model, metric in zip(traj.model[:k].tolist(), traj.search_metric[:k].tolist()):
        first.setdefault(model, metric)
    ranking = sorted(first, key=lambda m: -first[m])
    candidates = ranking[:8]
    assert traj.model[k : k + 8].tolist() == candidates
    assert np.all(traj.source[k : k + 8] == sources.index("normal"))
    assert stores["teachers"]["M1"] in candidates
    assert np.all(traj.source[k + 8 :] == sources.index("M1")) and np.all(traj.fidelity[k + 8 :] == LONG)
    assert traj.model[k + 8 : k + 16].tolist() == candidates[: len(traj) - k - 8]


# ------------------------------------------------------------------ the teacher-picking rule
class FakeBlockwise:
    """A blockwise-like evaluator with hand-made answers: 20 candidates, teachers T0 (model 99,
    the default) and T1..T3 whose models are 17, 15, 16; every run costs 10 s per FT epoch, a
    normal training 100 s; a repeat is free."""

    fidelities = (SHORT, LONG)
    sources = ("T0", "T1", "T2", "T3", "normal")
    normal = {19: 90.0, 18: 70.0, 17: 80.0, 16: 85.0, 15: 75.0}
    tuned = {  # (teacher, model) -> FT4 accuracy
        **{("T2", m): a for m, a in {19: 70.0, 18: 71.0, 17: 72.0, 16: 60.0, 15: 65.0}.items()},
        **{("T1", m): a for m, a in {19: 74.0, 18: 73.0, 17: 60.0, 16: 61.0, 15: 76.0}.items()},
        **{("T3", m): a for m, a in {19: 75.0, 18: 70.0, 17: 71.0, 16: 70.0, 15: 60.0}.items()},
    }

    def __init__(self, teachers=None) -> None:
        self.teachers = teachers or {"T0": 99, "T1": 17, "T2": 16, "T3": 15}
        self.candidates = np.arange(20, dtype=np.int64)
        self._paid = set()

    def teacher_of(self, model):
        return next((name for name, m in self.teachers.items() if m == int(model)), None)

    def evaluate(self, model, *, fidelity=None, mode="restart", source=None):
        name = source or "T0"
        model = int(model)
        if name == "normal":
            fidelity, acc, seconds = 200, self.normal.get(model, 50.0), 100.0
        else:
            fidelity = fidelity or LONG
            acc = 50.0 + model if fidelity == SHORT else self.tuned.get((name, model), 40.0)
            seconds = 10.0 * fidelity
        key = (model, name, fidelity)
        repeat = key in self._paid
        self._paid.add(key)
        return Evaluation(model, fidelity, acc, acc - 1, 0.0 if repeat else seconds, repeat, math.nan, name)

    def fresh(self, seed):
        return FakeBlockwise(self.teachers)

    def describe(self):
        return {"kind": "fake", "teachers": self.teachers}


def _fake_run(fake, **params):
    algorithm = get_algorithm("iterative_teacher", inner="random", phase_one_fte=1e6, **params)
    return _run(algorithm, fake, CostModel(fte_seconds=1000.0), budget=1e6)


def _segments(traj):
    """``[(source name, fidelity, [models])]``: runs of equal (source, fidelity)."""
    out = []
    for model, source, fidelity in zip(traj.model.tolist(), traj.source.tolist(), traj.fidelity.tolist()):
        name = FakeBlockwise.sources[source]
        if out and out[-1][:2] == (name, fidelity):
            out[-1][2].append(model)
        else:
            out.append((name, fidelity, [model]))
    return out


def test_iterative_picks_the_best_available_teacher_until_no_improvement():
    traj = _fake_run(FakeBlockwise())
    top = [19, 18, 17, 16, 15]  # FT2 accuracy is 50 + model: the ranking is 19, 18, ..., 0
    assert [s[:2] for s in _segments(traj)] == [
        ("T0", SHORT),  # phase one: every candidate (the inner search finished)
        ("normal", 200),  # step 3: 16 (85) is the best that can teach (19 is better but cannot): T2
        ("T2", LONG),  # step 4: best fine-tuned 72, by 17: T1
        ("T1", LONG),  # 76 > 72, by 15: T3
        ("T3", LONG),  # 75 <= 76: no further improvement, stop
        ("T1", LONG),  # the rest of the ranking with the teacher of the best step 4 (T1)
    ]
    segments = _segments(traj)
    assert sorted(segments[0][2]) == list(range(20))
    assert all(s[2] == top for s in segments[1:5])
    assert segments[5][2] == list(range(14, -1, -1))
    assert traj.stop_reason == "finished" and not traj.is_repeat.any()
    # the incumbent is the best validation accuracy of any evaluation: 19 trained normally
    assert traj.incumbent_search[-1] == 90.0 and traj.model[np.argmax(traj.search_metric)] == 19


def test_iterative_stops_at_max_iterations_and_without_retraining_the_rest():
    traj = _fake_run(FakeBlockwise(), max_iterations=2, retrain_rest=False)
    assert [s[:2] for s in _segments(traj)] == [("T0", SHORT), ("normal", 200), ("T2", LONG), ("T1", LONG)]


def test_iterative_when_no_candidate_can_teach():
    """Candidates without finetune stores are trained but cannot teach: step 4 runs once with the
    start teacher, then the rest of the ranking with it."""
    traj = _fake_run(FakeBlockwise({"T0": 99, "T1": 1, "T2": 2, "T3": 3}), top_k=3)
    assert [s[:2] for s in _segments(traj)] == [("T0", SHORT), ("normal", 200), ("T0", LONG)]
    assert _segments(traj)[2][2] == list(range(19, -1, -1))


def test_iterative_target_stops_it():
    traj = _fake_run(FakeBlockwise(), target=85.0)
    # phase one reaches 69 at most; the normal trainings reach 90 with the first candidate
    assert [s[:2] for s in _segments(traj)] == [("T0", SHORT), ("normal", 200)]
    assert _segments(traj)[1][2] == [19]


# ------------------------------------------------------------------ resume after a kill
class _Killed(Exception):
    pass


class KillAfter:
    """The evaluator, killed (an exception) at its ``n``-th evaluation."""

    def __init__(self, inner, n) -> None:
        self._inner, self._n, self._calls = inner, n, 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def evaluate(self, model, **kwargs):
        self._calls += 1
        if self._calls > self._n:
            raise _Killed
        return self._inner.evaluate(model, **kwargs)

    def fresh(self, seed):
        return KillAfter(self._inner.fresh(seed), self._n)


FIELDS = (
    "model",
    "fidelity",
    "source",
    "search_metric",
    "cost_s",
    "cum_cost_s",
    "is_repeat",
    "incumbent_reported",
)


def _same(a, b):
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in FIELDS)


@pytest.mark.parametrize("key", ["two_phase M5 then M1", "iterative from M5"])
def test_resume_of_a_killed_seed_gives_the_identical_trajectory(runs, by_teacher, cost, tmp_path, key):
    """The store marked pending with some steps recorded, as a kill leaves it: in phase one, in
    phase two (the iterations)."""
    teacher, name, params = CASES[key]
    algorithm = get_algorithm(name, phase_one_fte=PHASE_ONE, **params)
    evaluator, whole = by_teacher[teacher], runs[key]
    out = tmp_path / "run.zarr"
    assert _same(_run(algorithm, evaluator, cost, out=out), whole)
    k = _phase_two_start(whole)
    for killed in (k - 4, k + 3, len(whole) - 1):
        group = open_store(out, mode="r+")
        group["status"][0] = 0  # pending: the run was killed while searching seed 0
        group["num_steps"][0] = killed
        assert _same(_run(algorithm, evaluator, cost, out=out), whole)
        assert _same(open_search(out).trajectory(0), whole)


def test_resume_after_an_exception_gives_the_identical_trajectory(
    runs, by_teacher, cost, tmp_path, monkeypatch
):
    """Killed by an exception while fine-tuning with the teacher it picked (every step flushed as
    it is recorded), then run again."""
    algorithm = get_algorithm("iterative_teacher", phase_one_fte=PHASE_ONE, top_k=8)
    whole = runs["iterative from M5"]
    k = _phase_two_start(whole) + 10  # past the 8 normal trainings
    monkeypatch.setattr(runner_module, "FLUSH_SECONDS", 0.0)
    out = tmp_path / "killed.zarr"
    with pytest.raises(_Killed):
        _run(algorithm, KillAfter(by_teacher["M5"], k), cost, out=out)
    group = open_store(out)
    assert int(group["num_steps"][0]) == k and int(group["status"][0]) == 0
    assert _same(_run(algorithm, by_teacher["M5"], cost, out=out), whole)
    assert _same(open_search(out).trajectory(0), whole)
