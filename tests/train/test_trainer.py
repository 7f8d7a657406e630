import json

import pytest
import torch
from safetensors.torch import load_file

import ganforge
from ganforge.config import make_config
from ganforge.errors import CheckpointError, DivergenceError, GanforgeError
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer


def _cfg(out, **kw):
    base = dict(steps=12, batch_size=32, g_width=16, d_width=16, z_dim=16, log_every=3, sample_every=0,
                checkpoint_every=6, deterministic=True, seed=3, out=str(out), n_critic=2,
                r1_gamma=0.0)  # digits' dcgan default has lazy R1 (an extra batch every 16 steps): counts below assume none
    return make_config({**base, **kw})


def _final_tensors(run):
    meta, _ = latest_checkpoint(run)
    return load_file(str(run / "checkpoints" / meta["tensors"])), meta


def test_resume_is_exact(tmp_path):
    """N steps straight == N/2 steps + resume + N/2 steps: same weights, EMA, optimiser state, RNG. The lr
    decay starts at an absolute step (9): a fraction of --steps (the digits default, 0.5) would start it
    at 3 in the 6-step first half, a different schedule by design."""
    straight = ganforge.train(_cfg(tmp_path / "a", lr_decay_start=9))
    ganforge.train(_cfg(tmp_path / "b", steps=6, lr_decay_start=9))
    resumed = ganforge.train(_cfg(tmp_path / "b", lr_decay_start=9), resume=True)
    a, meta_a = _final_tensors(straight)
    b, meta_b = _final_tensors(resumed)
    assert meta_a["step"] == meta_b["step"] == 12
    assert meta_a["sampler_drawn"] == meta_b["sampler_drawn"] == 12 * 3  # n_critic 2 + 1 generator batch
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # And training actually changed the weights (the comparison is not vacuous).
    first = ganforge.train(_cfg(tmp_path / "c", steps=1))
    c, _ = _final_tensors(first)
    assert not torch.equal(c["net.generator.main.0.weight"], a["net.generator.main.0.weight"])


def test_run_folder_contents(tmp_path):
    run = ganforge.train(_cfg(tmp_path / "r", sample_every=6))
    for name in ("config.yaml", "data.json", "run.json", "metrics.jsonl", "loss.png", "samples.png",
                 "samples/step-00000006.png"):
        assert (run / name).is_file(), name
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6, 9, 12]
    assert {"d_loss", "g_loss"} <= records[0].keys()


def test_refuses_to_overwrite_a_run_and_resume_needs_one(tmp_path):
    ganforge.train(_cfg(tmp_path / "r", steps=2))
    with pytest.raises(GanforgeError, match="--resume"):
        ganforge.train(_cfg(tmp_path / "r", steps=2))
    with pytest.raises(CheckpointError):
        ganforge.train(_cfg(tmp_path / "empty", steps=2), resume=True)


def test_resume_with_another_recipe_is_refused(tmp_path):
    ganforge.train(_cfg(tmp_path / "r", steps=2))
    with pytest.raises(CheckpointError, match="recipe"):
        ganforge.train(_cfg(tmp_path / "r", steps=4, recipe="vanilla"), resume=True)


def test_phases_n_critic_and_interval(tmp_path):
    trainer = Trainer(_cfg(tmp_path, n_critic=3), run_dir=None)
    trainer.train_step()
    assert trainer.sampler.drawn == 4


def test_logs_are_the_mean_of_each_phase_own_records(tmp_path):
    """A phase repeated n_critic times logs the mean of its records (not n_critic times it); a lazy phase
    that runs every k-th step logs the mean of the steps it ran (not a k-th of it)."""
    trainer = Trainer(_cfg(tmp_path, n_critic=3, recipe="wgan-gp", r1_gamma=1.0, r1_interval=4), run_dir=None)
    seen: dict[str, list[float]] = {}
    record = trainer.record

    def spy(phase_name, loss, logs):
        for key, value in logs.items():
            seen.setdefault(key if phase_name in ("D", "G") else f"{phase_name}/{key}", []).append(float(value))
        record(phase_name, loss, logs)

    trainer.record = spy
    for _ in range(5):
        trainer.train_step()
    logs = trainer.pop_logs()
    assert len(seen["d_loss"]) == 15 and len(seen["D_reg/r1"]) == 2  # 5 steps x 3 critic repeats; steps 0 and 4
    for key, values in seen.items():
        assert logs[key] == pytest.approx(sum(values) / len(values), rel=1e-5, abs=1e-6), key


class _NaNAfter:
    """Wraps a phase loss so that it returns NaN from a given step on (simulated divergence)."""

    def __init__(self, fn, from_step):
        self.fn, self.from_step = fn, from_step

    def __call__(self, batch, step):
        loss, logs = self.fn(batch, step)
        return (loss * float("nan") if step >= self.from_step else loss), logs


def test_divergence_rolls_back_then_stops_and_never_checkpoints_nan(tmp_path):
    cfg = _cfg(tmp_path / "r", steps=12, checkpoint_every=3, log_every=3, max_rollbacks=2)
    trainer = Trainer(cfg)
    trainer.phases[0].loss = _NaNAfter(trainer.phases[0].loss, 7)
    with pytest.raises(DivergenceError, match="diverged"):
        trainer.fit()
    assert trainer.rollbacks == 2
    assert trainer.lr_scale == pytest.approx(0.25)
    meta, tensors = latest_checkpoint(tmp_path / "r")
    assert meta["step"] == 6
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "failed"
    events = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert sum(e.get("event") == "rollback" for e in events) == 2


def test_transient_divergence_recovers(tmp_path):
    cfg = _cfg(tmp_path / "r", steps=12, checkpoint_every=3, log_every=3)
    trainer = Trainer(cfg)
    original = trainer.phases[0].loss
    calls = {"n": 0}

    def once_nan(batch, step):
        loss, logs = original(batch, step)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 10 else loss), logs

    trainer.phases[0].loss = once_nan
    trainer.fit()
    assert trainer.rollbacks == 1 and trainer.step == 12 and trainer.weights_finite()


def test_a_run_folder_is_written_by_one_training_at_a_time(tmp_path):
    import os

    from ganforge.train.run_folder import RunLock

    run = tmp_path / "r"
    with RunLock(run):  # another training holds the folder
        with pytest.raises(GanforgeError, match=rf"being written by another training \(pid {os.getpid()}\)"):
            ganforge.train(_cfg(run, steps=2))
        assert not (run / "run.json").exists()  # refused before writing anything
    ganforge.train(_cfg(run, steps=2))  # released: the folder is free again
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


def test_checkpoint_format_1_runs_still_load(tmp_path):
    """Runs written before format 2 (a single 'rng.torch', EMA as 'ema.generator.') load and resume."""
    run = ganforge.train(_cfg(tmp_path / "old", steps=6))
    meta_path = sorted((run / "checkpoints").glob("step-*.json"))[-1]
    meta = json.loads(meta_path.read_text())
    for key in ("recipe_state", "emas", "precision"):
        meta.pop(key, None)
    meta["version"] = 1
    meta_path.write_text(json.dumps(meta))
    assert ganforge.load(run).sample(4).shape == (4, 1, 8, 8)
    resumed = ganforge.train(_cfg(run, steps=8), resume=True)
    assert latest_checkpoint(resumed)[0]["step"] == 8


def test_threads_apply_to_the_run_and_are_given_back(tmp_path):
    """``threads`` sets PyTorch's (process-wide) intra-op thread count for the run only; run.json records it."""
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    run = ganforge.train(_cfg(tmp_path / "run", steps=2, threads=wanted))
    assert json.loads((run / "run.json").read_text())["threads"] == wanted
    assert torch.get_num_threads() == before
    with pytest.raises(GanforgeError, match="threads"):
        make_config({"threads": -1})


def test_precision_defaults_to_auto_and_the_run_records_the_choice(tmp_path, monkeypatch):
    """``auto`` (the default) trains in bf16 only where the CPU runs it natively (flags mocked), and
    run.json and the checkpoint say which precision was used."""
    from ganforge.config import Config
    from ganforge.utils import hardware

    assert Config().precision == "auto"
    for flags, expected in (("avx2 avx512f avx512_bf16 amx_bf16", "bf16"), ("avx2 fma", "fp32")):
        monkeypatch.setattr(hardware, "cpu_flags", lambda flags=flags: frozenset(flags.split()))
        run = ganforge.train(_cfg(tmp_path / expected, steps=2, checkpoint_every=2, precision="auto"))
        info = json.loads((run / "run.json").read_text())
        assert (info["precision"], info["precision_requested"]) == (expected, "auto")
        assert latest_checkpoint(run)[0]["precision"] == expected
