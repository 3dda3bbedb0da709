"""DARTS-PT end to end (blox_train.oneshot): a seeded run picks the same model twice, a run
killed while training or while projecting resumes from its checkpoint to the same model, a finished work folder is
read back without computing, and `blox-train supernet` prints it."""

from __future__ import annotations

import json

import blox_space as bs
import blox_train.darts_pt as dpt
import blox_train.oneshot as oneshot
import pytest
import torch
from blox_train.cli import main
from blox_train.errors import CheckpointError, ConfigError
from blox_train.recipes import get_recipe

torch.set_num_threads(1)

#: 600 generated images at 8x8 (360 train, 120 val), width 4, the whole split in one batch: one
#: DARTS step per epoch (the supernet's ~500 small layers make a step cost ~0.4 s on one thread).
RECIPE = get_recipe("ci").replace(dataset="synthetic", batch_size=360, eval_batch_size=120)
SETTINGS = {"epochs": 2, "proj_intv": 1}


class Killed(Exception):
    """Stands in for a kill (SIGTERM) in the middle of the work."""


def _run(workdir=None, **kw):
    return oneshot.run_darts_pt(RECIPE, seed=3, workdir=workdir, **{**SETTINGS, **kw})


@pytest.fixture(scope="module")
def straight():
    return _run()


def test_result_is_a_valid_model_with_seconds_and_the_argmax(straight):
    r = straight
    assert r.model == bs.to_index(r.block_ids) and 0 <= r.model < bs.NUM_MODELS
    assert len(r.decisions) == 15 and r.tune_epochs == 14
    assert (
        r.train_seconds > 0
        and r.projection_seconds > 0
        and r.seconds == r.train_seconds + r.projection_seconds
    )
    assert r.argmax_block_ids == "invalid" or r.argmax_model == bs.to_index(r.argmax_block_ids)
    assert r.settings["recipe_id"] == RECIPE.id and r.settings["epochs"] == 2
    assert len(r.history["seconds"]) == 2
    again = oneshot.DartsPTResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r


def test_same_seed_same_model_other_seed_runs(straight):
    twice = _run()
    assert (twice.model, twice.cells, twice.decisions) == (straight.model, straight.cells, straight.decisions)
    assert twice.history["train_loss"] == straight.history["train_loss"]


def test_killed_while_training_resumes_to_the_same_model(straight, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = dpt.darts_step

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # one step per epoch: epoch 1 is checkpointed, epoch 2 dies
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(dpt, "darts_step", dies_in_epoch_two)
    with pytest.raises(Killed):
        _run(tmp_path)
    assert (tmp_path / oneshot.CHECKPOINT_FILE).exists() and not (tmp_path / oneshot.RESULT_FILE).exists()
    monkeypatch.setattr(dpt, "darts_step", real)
    resumed = _run(tmp_path)
    assert (resumed.model, resumed.cells, resumed.decisions) == (
        straight.model,
        straight.cells,
        straight.decisions,
    )
    assert resumed.history["train_loss"] == straight.history["train_loss"]


def test_killed_while_projecting_resumes_from_its_last_decision_to_the_same_model(
    straight, tmp_path, monkeypatch
):
    real = dpt.evaluate_supernet
    calls = {
        "n": 0,
        "kill_at": 13,
    }  # 2-3 candidates an edge: at least four decisions are checkpointed by then

    def counted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["kill_at"]:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(dpt, "evaluate_supernet", counted)
    with pytest.raises(Killed):
        _run(tmp_path)
    saved = torch.load(tmp_path / oneshot.PROJECTION_FILE, weights_only=True)
    done = saved["epoch"]
    assert 4 <= done < 15 and not (tmp_path / oneshot.RESULT_FILE).exists()
    assert [d[:3] for d in saved["optimizer_state"]["decisions"]] == [
        [d["stage"], d["edge"], d["choice"]] for d in straight.decisions[:done]
    ]
    calls.update(n=0, kill_at=None)
    resumed = _run(tmp_path)
    # 36 measurements in all (3 stages x (3 + 3 + 2 + 2 + 2) candidates): the resumed run skips the saved ones
    assert calls["n"] == 36 - sum(len(d[3]) for d in saved["optimizer_state"]["decisions"])
    assert (resumed.model, resumed.cells, resumed.decisions) == (
        straight.model,
        straight.cells,
        straight.decisions,
    )
    assert (
        resumed.argmax_block_ids == straight.argmax_block_ids and resumed.tune_epochs == straight.tune_epochs
    )
    assert resumed.history["train_loss"] == straight.history["train_loss"]


def test_a_projection_checkpoint_of_other_settings_is_refused(tmp_path, monkeypatch):
    real, calls = dpt.evaluate_supernet, {"n": 0}

    def dies_in_decision_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the first decision (2-3 measurements) and its tuning are checkpointed
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(dpt, "evaluate_supernet", dies_in_decision_two)
    with pytest.raises(Killed):
        _run(tmp_path / "a", epochs=1, proj_intv=1)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / oneshot.PROJECTION_FILE).write_bytes(
        (tmp_path / "a" / oneshot.PROJECTION_FILE).read_bytes()
    )
    with pytest.raises(CheckpointError, match="proj_intv"):
        _run(tmp_path / "b", epochs=1, proj_intv=2)


def test_finished_folder_is_read_back_and_other_settings_refused(tmp_path, monkeypatch):
    first = _run(tmp_path, epochs=1, proj_intv=0)
    assert json.loads((tmp_path / oneshot.RESULT_FILE).read_text())["model"] == first.model

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was computed again")

    monkeypatch.setattr(oneshot, "train_supernet", refuse)
    assert _run(tmp_path, epochs=1, proj_intv=0) == first
    with pytest.raises(ConfigError, match="epochs differ"):
        _run(tmp_path, epochs=2, proj_intv=0)


@pytest.mark.parametrize(
    "bad", [{"epochs": -1}, {"proj_intv": -2}, {"lr": 0}, {"arch_lr": float("nan")}, {"tune_alpha": "yes"}]
)
def test_bad_settings_are_config_errors(bad):
    with pytest.raises(ConfigError):
        oneshot.run_darts_pt(RECIPE, **bad)


def test_cli_supernet_prints_the_model(tmp_path, capsys):
    args = ["supernet", "--recipe", "ci", "--set", "dataset=synthetic", "--set", "batch_size=120"]
    args += ["--epochs", "1", "--proj-intv", "0", "--threads", "1", "--workdir", str(tmp_path / "w")]
    assert main([*args, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == bs.to_index(record["block_ids"]) and record["seconds"] > 0
    assert main(args) == 0  # read back from the work folder
    assert f"DARTS-PT model {record['model']}" in capsys.readouterr().out
    assert main(["supernet", "--recipe", "ci", "--epochs", "-1"]) == 2
    assert "error" in capsys.readouterr().err
