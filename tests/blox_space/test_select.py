"""Teacher and student selection from a benchmark store: ranks (best first, ties to the lower
model index), median, quantiles, negative ranks, the paper's M1..M5, students among the trained
models, the selector grammar against random text, and the ``blox-space select`` command."""

from __future__ import annotations

import json

import blox_space as bs
import numpy as np
import pytest
from blox_space.cli import main
from blox_space.schema import STATUS_FAILED
from hypothesis import given, settings
from hypothesis import strategies as st

#: model -> best validation accuracy per seed (None = pending, "failed" = a failed run)
ACCS = {
    3: [50.0, 52.0],  # mean 51: best
    10: [40.0, 40.0],  # 40, tied with 20
    20: [41.0, 39.0],  # 40
    30: [30.0, "failed"],  # 30 (the failed seed is left out)
    40: [None, 35.0],  # 35 (the pending seed is left out)
    50: [10.0, 12.0],  # 11: worst
    60: ["failed", "failed"],  # not trained
    70: [None, None],  # not trained
}
RANKED = [3, 10, 20, 40, 30, 50]


def _write(group, model, seed, acc):
    if acc is None:
        return
    if acc == "failed":
        bs.write_model_result(
            group, model, seed, per_epoch={"val_acc": [5.0]}, test={}, train_seconds=1.0, status=STATUS_FAILED,
            fail_reason="diverged",
        )  # fmt: skip
        return
    bs.write_model_result(
        group, model, seed, per_epoch={"val_acc": [acc / 2, acc]}, test={}, train_seconds=1.0
    )


def _bench(path, accs=ACCS):
    group = bs.create_benchmark_shard(
        path, list(accs), seeds=(0, 1), epochs=2, recipe_id="r", recipe={}, dataset="d"
    )
    for model, per_seed in accs.items():
        for seed, acc in enumerate(per_seed):
            _write(group, model, seed, acc)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _bench(tmp_path_factory.mktemp("select") / "bench.zarr")


@pytest.fixture(scope="module")
def bench(store):
    return bs.open_benchmark(store)


def test_models_are_ranked_by_mean_best_validation_accuracy_ties_to_the_lower_index(bench):
    from blox_space.bench.select import ranked_models, trained_models

    assert ranked_models(bench).tolist() == RANKED
    assert trained_models(bench).tolist() == sorted(RANKED)


@pytest.mark.parametrize(
    ("selector", "model"),
    [
        ("rank:1", 3), ("rank:2", 10), ("rank:3", 20), ("rank:6", 50), ("rank:-1", 50), ("rank:-2", 30),
        ("rank:-6", 3), ("rank:+2", 10), (" rank:1 ", 3), ("median", 20), ("quantile:1", 3),
        ("quantile:0", 50), ("quantile:0.5", 20), ("quantile:.8", 10), ("quantile:1e-1", 30), ("quantile:1e-2", 50),
        ("M1", 3), ("M2", 10), ("M3", 20), ("M4", 30), ("M5", 50),
        ("24519", 24519), (24519, 24519), ((39, 4, 12), 24519), ([0, 0, 0], 0),
        ("conv>mbconv+inp+res | mbconv>mbconv | conv>conv+inp", 24519), (bs.to_hash(5), 5),
    ],
)  # fmt: skip
def test_selectors_pick_the_expected_model(bench, selector, model):
    assert bs.select_model(bench, selector) == model


def test_the_paper_teachers_are_m1_to_m5_in_order(bench, store):
    assert list(bs.PAPER_TEACHERS) == ["M1", "M2", "M3", "M4", "M5"]
    assert list(bs.PAPER_TEACHERS.values()) == ["rank:1", "rank:2", "median", "rank:-2", "rank:-1"]
    assert [bs.select_model(store, s) for s in bs.PAPER_TEACHERS.values()] == [3, 10, 20, 30, 50]


@pytest.mark.parametrize("n", range(1, 30))
def test_quantile_one_half_is_the_median_and_quantiles_span_the_ranks(n):
    from blox_space.bench.select import Selector, _rank_of

    assert _rank_of(Selector("quantile", 0.5), n, "") == _rank_of(Selector("median"), n, "") == (n + 1) // 2
    ranks = [_rank_of(Selector("quantile", q), n, "") for q in np.linspace(1, 0, 101)]
    assert ranks[0] == 1 and ranks[-1] == n and ranks == sorted(ranks)


@pytest.mark.parametrize(
    ("selector", "says"),
    [
        ("rank:0", "non-zero integer"),
        ("rank:7", r"ranks 6 trained models, so K must be in 1\.\.6 or -6\.\.-1"),
        ("rank:-7", r"1\.\.6 or -6\.\.-1"),
        ("rank:1.5", "rank:K"),
        ("rank:", "rank:K"),
        ("quantile:1.01", r"Q in 0\.\.1"),
        ("quantile:-0", r"0\.\.1|."),
        ("quantile:nan", r"Q in 0\.\.1"),
        ("quantile:inf", r"Q in 0\.\.1"),
        ("M6", "cannot read selector 'M6'"),
        ("best", "rank:K .* median, quantile:Q"),
        ("", "cannot read selector"),
        ("91125", "out of range"),
        ("9" * 5000, "too long"),
    ],
)
def test_bad_selectors_are_query_errors_saying_what_is_allowed(bench, selector, says):
    if selector == "quantile:-0":  # -0 is 0: the worst model
        assert bs.select_model(bench, selector) == 50
        return
    with pytest.raises(bs.QueryError, match=says):
        bs.select_model(bench, selector)


def test_a_benchmark_without_trained_models_has_nothing_to_rank(tmp_path):
    empty = bs.open_benchmark(_bench(tmp_path / "b.zarr", {1: [None, "failed"]}))
    with pytest.raises(bs.QueryError, match="no trained model"):
        bs.select_model(empty, "median")
    assert bs.select_model(empty, "1") == 1  # an architecture needs no ranking
    with pytest.raises(bs.ModelSpecError, match="none of the benchmark's 0 trained models"):
        bs.select_models(empty, "all")


def test_student_specs_are_resolved_among_the_trained_models(bench):
    assert bs.select_models(bench, "all").tolist() == sorted(RANKED)
    assert bs.select_models(bench, "trained").tolist() == sorted(RANKED)
    assert bs.select_models(bench, "sample:1000:0").tolist() == sorted(RANKED)  # fewer: all of them
    three = bs.select_models(bench, "sample:3:7")
    assert len(three) == 3 and set(three) <= set(RANKED) and three.tolist() == sorted(three.tolist())
    assert bs.select_models(bench, "sample:3:7").tolist() == three.tolist()  # seeded
    draws = {tuple(bs.select_models(bench, f"sample:3:{s}").tolist()) for s in range(10)}
    assert len(draws) > 1
    assert bs.select_models(bench, "0:25").tolist() == [3, 10, 20]
    assert bs.select_models(bench, "3,60,70,50").tolist() == [3, 50]
    assert bs.select_models(bench, [50, 3, 3]).tolist() == [3, 50]
    assert bs.select_models(bench, np.array([20, 21])).tolist() == [20]
    with pytest.raises(bs.ModelSpecError, match="selects none of the benchmark's 6 trained models"):
        bs.select_models(bench, "60,70")
    for bad, says in (("sample:0:1", "sample size"), ("sample:3", "sample:N:SEED"), ("x", "not an integer")):
        with pytest.raises(bs.ModelSpecError, match=says):
            bs.select_models(bench, bad)


SELECTOR_TEXT = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"(rank|quantile|median|M)[:0-9.eE+-]{0,30}", fullmatch=True),
    st.from_regex(r"rank:[+-]?[0-9]{1,40}", fullmatch=True),
    st.from_regex(r"quantile:[0-9.eE+-]{0,40}", fullmatch=True),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.from_regex(r"[\[\]\(\), 0-9-]{0,60}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(SELECTOR_TEXT)
def test_random_selectors_give_a_selector_or_a_query_error(text):
    try:
        parsed = bs.parse_selector(text)
    except bs.QueryError:
        return
    assert parsed.kind in ("rank", "median", "quantile", "model")
    if parsed.kind == "quantile":
        assert 0.0 <= parsed.value <= 1.0
    if parsed.kind == "rank":
        assert parsed.value != 0


@settings(max_examples=150, deadline=None)
@given(SELECTOR_TEXT)
def test_random_selectors_against_a_store_give_a_model_or_a_query_error(bench, text):
    try:
        model = bs.select_model(bench, text)
    except bs.QueryError:
        return
    assert 0 <= model < bs.NUM_MODELS


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=60), st.from_regex(r"sample:-?[0-9]{1,25}:-?[0-9]{1,25}", fullmatch=True)))
def test_random_student_specs_give_models_or_a_model_spec_error(bench, text):
    try:
        models = bs.select_models(bench, text)
    except bs.ModelSpecError:
        return
    assert models.size and set(models.tolist()) <= set(RANKED)


# ---------------------------------------------------------------------------------------
# blox-space select
# ---------------------------------------------------------------------------------------
def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_select_defaults_to_the_paper_teachers_and_students(store, capsys):
    code, out, _ = _run(capsys, ["select", str(store)])
    assert code == 0
    record = json.loads(out)
    assert record["teachers"] == {"M1": 3, "M2": 10, "M3": 20, "M4": 30, "M5": 50}
    assert record["selectors"] == bs.PAPER_TEACHERS
    assert record["models"] == sorted(RANKED)


def test_select_names_students_and_teachers_are_joined(store, capsys):
    code, out, _ = _run(capsys, ["select", str(store), "rank:1", "M5", "--models", "0:15"])
    assert code == 0
    record = json.loads(out)
    assert record["teachers"] == {"M1": 3, "M5": 50} and record["selectors"] == {"M1": "rank:1", "M5": "M5"}
    assert record["models"] == [3, 10, 50]  # students 3, 10 plus the teacher 50
    code, out, _ = _run(
        capsys, ["select", str(store), "median", "24519", "--names", "mid,big", "--models", "50"]
    )
    assert json.loads(out) == {
        "teachers": {"mid": 20, "big": 24519}, "selectors": {"mid": "median", "big": "24519"},
        "models": [20, 50, 24519],
    }  # fmt: skip


def test_select_writes_out_atomically_and_keeps_an_existing_file(store, tmp_path, capsys):
    out = tmp_path / "sub" / "teachers.json"
    code, stdout, _ = _run(capsys, ["select", str(store), "--out", str(out)])
    assert code == 0 and stdout.strip() == str(out)
    first = json.loads(out.read_text())
    assert first["teachers"]["M1"] == 3
    code, _, err = _run(capsys, ["select", str(store), "rank:2", "--out", str(out)])
    assert code == 2 and "already exists" in err and json.loads(out.read_text()) == first
    code, _, _ = _run(capsys, ["select", str(store), "rank:2", "--out", str(out), "--overwrite"])
    assert code == 0 and json.loads(out.read_text())["teachers"] == {"M1": 10}
    assert sorted(p.name for p in out.parent.iterdir()) == ["teachers.json"]  # no temporary left


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["rank:9"], "K must be in 1..6"),
        (["nonsense"], "cannot read selector 'nonsense'"),
        (["rank:1", "--names", "A,B"], "2 name(s)"),
        (["rank:1", "rank:2", "--names", "A,A"], "must be unique"),
        (["rank:1", "M1"], "must be unique"),
        (["rank:1", "--names", " "], "must not be empty"),
        (["--models", "60,70"], "selects none of the benchmark's 6 trained models"),
        (["--models", "sample:-1:0"], "sample size"),
    ],
)
def test_select_mistakes_are_one_line_exit_2(store, capsys, args, says):
    code, out, err = _run(capsys, ["select", str(store), *args])
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and says in err, err
