"""Divergence guard (what tests/train/test_trainer.py does not cover) and the mode-collapse warning.

The lead's tests inject NaN losses (rollback, stop, transient recovery). Here: an exploding gradient
norm with finite losses, an Inf loss, NaN in the weights while the losses are still finite, a NaN never
reaching a checkpoint even with the guard off, and the guard costing no host sync between log steps.
"""
from __future__ import annotations

import json
import os
import sys

import pytest
import torch

from ganforge.config import make_config
from ganforge.errors import DivergenceError
from ganforge.train.checkpoint import latest_checkpoint, list_checkpoints
from ganforge.train.trainer import Trainer


def _cfg(out, **kw):
    base = dict(recipe="vanilla", data="toy-ring", options={"n_samples": 1024}, steps=12, batch_size=32,
                g_width=16, d_width=16, z_dim=4, log_every=3, sample_every=0, checkpoint_every=3, seed=5,
                device="cpu", out=str(out), collapse_warning=False)
    return make_config({**base, **kw})


def _scale_loss_from(trainer, phase_index, from_step, factor):
    """From ``from_step`` on, the phase's loss is multiplied by ``factor`` (1e8: finite, huge gradients)."""
    phase = trainer.phases[phase_index]
    original = phase.loss

    def scaled(batch, step):
        loss, logs = original(batch, step)
        return (loss * factor if step >= from_step else loss), logs

    phase.loss = scaled


def _all_finite(tensors):
    return all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


@pytest.mark.parametrize("factor", [1e8, float("inf")], ids=["exploding-grad-norm", "inf-loss"])
def test_exploding_gradients_or_inf_loss_roll_back_then_stop(tmp_path, factor):
    trainer = Trainer(_cfg(tmp_path / "r", max_rollbacks=2))
    _scale_loss_from(trainer, 0, 7, factor)
    with pytest.raises(DivergenceError, match="gradient norm above"):
        trainer.fit()
    assert trainer.rollbacks == 2 and trainer.lr_scale == pytest.approx(0.25)
    meta, tensors = latest_checkpoint(tmp_path / "r")
    assert meta["step"] == 6 and _all_finite(tensors)
    assert [p.name for p in list_checkpoints(tmp_path / "r")][-1] == "step-00000006.json"
    events = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [e["diverged_before"] for e in events if e.get("event") == "rollback"] == ["step 9", "step 9"]


def test_huge_but_finite_gradients_pass_when_the_norm_limit_allows(tmp_path):
    """Control for the test above: with the limit raised, the same run is not flagged (the norm did it)."""
    trainer = Trainer(_cfg(tmp_path / "r", max_grad_norm=1e30))
    _scale_loss_from(trainer, 0, 7, 1e8)
    trainer.fit()
    assert trainer.rollbacks == 0 and trainer.step == 12


def _poison_weights_at(trainer, step, net="discriminator"):
    """After the last phase of ``step``, one weight becomes NaN: no loss has seen it yet."""
    original = trainer.recipe.after_step
    done = []

    def after_step(phase):
        original(phase)
        if trainer.step == step and phase is trainer.phases[-1] and not done:
            module = trainer.ema.model if net == "ema" else trainer.recipe.nets[net]
            with torch.no_grad():
                next(module.parameters()).view(-1)[0] = float("nan")
            done.append(step)

    trainer.recipe.after_step = after_step
    return done


@pytest.mark.parametrize("net", ["discriminator", "ema"])
def test_nan_in_weights_is_caught_at_the_next_check_and_rolled_back(tmp_path, net):
    trainer = Trainer(_cfg(tmp_path / "r", ema_decay=0.9))
    poisoned = _poison_weights_at(trainer, 8, net)  # the step that ends at the log step 9: no loss saw it
    seen_flags = []
    original_check = trainer._check_divergence
    trainer._check_divergence = lambda: (seen_flags.append(bool(trainer._bad)), original_check())[1]
    trainer.fit()
    assert poisoned == [8]
    assert trainer.rollbacks == 1 and trainer.step == 12 and trainer.weights_finite()
    assert seen_flags and not any(seen_flags)  # the loss/grad flags never fired: the weight check did
    meta, tensors = latest_checkpoint(tmp_path / "r")
    assert meta["step"] == 12 and meta["rollbacks"] == 1 and _all_finite(tensors)


def test_nan_is_never_written_into_a_checkpoint_even_with_the_guard_off(tmp_path):
    trainer = Trainer(_cfg(tmp_path / "r", divergence="off"))
    _poison_weights_at(trainer, 4, net="generator")
    with pytest.raises(DivergenceError, match="not checkpointing"):
        trainer.fit()
    assert [p.name for p in list_checkpoints(tmp_path / "r")] == ["step-00000003.json"]
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir()) == [
        "step-00000003.json", "step-00000003.safetensors"]  # no tensor file of step 6 either
    assert _all_finite(latest_checkpoint(tmp_path / "r")[1])
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "failed"


SYNCING = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy", "cpu")


def _count_host_syncs(monkeypatch, fn) -> int:
    """Python-level tensor -> host conversions during ``fn()`` (on a GPU each one waits for the device).

    Not counted: torch.optim reading its own step counter, a CPU tensor unless the optimiser is
    ``capturable`` (so never a device sync)."""
    count = [0]
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *a, _original=original, **k):
            if f"torch{os.sep}optim{os.sep}" not in sys._getframe(1).f_code.co_filename:
                count[0] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    try:
        fn()
    finally:
        monkeypatch.undo()
    return count[0]


@pytest.mark.parametrize("recipe", ["vanilla", "wgan-gp"])  # wgan-gp: n_critic 5, gradient penalty
def test_the_guard_adds_no_host_sync_between_log_steps(monkeypatch, recipe):
    def syncs(**kw):
        trainer = Trainer(_cfg(None, recipe=recipe, architecture="mlp", **kw), run_dir=None)
        trainer.train_step()  # warm-up: lazy state (optimiser buffers) is created outside the count
        return _count_host_syncs(monkeypatch, lambda: [trainer.train_step() for _ in range(4)])

    guarded = syncs(divergence="rollback", max_grad_norm=1e4)
    assert guarded == syncs(divergence="off") == 0
    # The counter does see syncs (the test can fail): a log step's pop_logs converts once.
    trainer = Trainer(_cfg(None, recipe=recipe, architecture="mlp"), run_dir=None)
    trainer.train_step()
    assert _count_host_syncs(monkeypatch, trainer.pop_logs) >= 1


class _ForceCollapse:
    """From step ``at`` on, the generator's last layer outputs its bias only: every sample is the same."""

    def __init__(self, at):
        self.at = at

    def on_step(self, trainer):
        if trainer.step >= self.at:
            last = [m for m in trainer.recipe.nets["generator"].modules() if isinstance(m, torch.nn.Linear)][-1]
            with torch.no_grad():
                last.weight.zero_()

    def __getattr__(self, name):  # the other callback hooks: nothing to do
        return lambda *a, **k: None


@pytest.mark.parametrize("force", [True, False], ids=["forced-collapse", "normal-training"])
def test_mode_collapse_warning(tmp_path, capsys, force):
    cfg = _cfg(tmp_path / "r", steps=60, log_every=5, checkpoint_every=0, collapse_warning=True)
    trainer = Trainer(cfg)
    if force:
        trainer.callbacks.append(_ForceCollapse(at=30))
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    diversity = {r["step"]: r["collapse/diversity"] for r in records if "collapse/diversity" in r}
    assert sorted(diversity) == list(range(5, 61, 5))
    warnings = [r for r in records if r.get("event") == "mode_collapse"]
    if force:
        top = max(diversity.values())
        assert all(diversity[s] < 0.01 * top for s in range(35, 61, 5))  # collapsed for good...
        assert [w["step"] for w in warnings] == [35]  # ...warned once, at the first log step after it
        assert warnings[0]["max_diversity"] == top > 0
        assert "possible mode collapse at step 35" in capsys.readouterr().err
    else:
        assert warnings == [] and min(diversity.values()) > 0
        assert "mode collapse" not in capsys.readouterr().err
