"""Crash safety: SIGKILL at random moments and inside checkpoint writes, resume, same weights bit for bit.

How the kills are aimed (see workers.py): each round forks a worker running the real command line
(``ganforge train ...`` first, ``ganforge train --resume RUN`` after). A seeded plan decides, per
round, either a *random* kill (after a uniform random delay, capped at a few checkpoints of progress)
or an *aimed* kill at the k-th occurrence of a checkpoint write point (half-written tensor temp file,
tensor file without its JSON, half-written JSON temp file, committed but not pruned, half-pruned).
After every kill the run folder must hold exactly the last checkpoint the worker committed (random
kills: that one or the next, whose rename may land just before the kill), and the next worker must
restore exactly that step. The final weights (networks, EMA, optimiser state, RNG), the metrics history
and the checkpoint folder must equal an uninterrupted run's.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
import torch
from safetensors.torch import load_file

from ganforge.train.checkpoint import latest_checkpoint, list_checkpoints
from tests.reliability.workers import WRITE_POINTS, Worker, train_argv

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

STEPS, EVERY = 120, 3
KILLS = 25  # 15 aimed at write points (3 x 5) + 10 at random moments
PROGRESS_CAP = 6  # a random-delay round is killed at the latest after this many steps of progress
PLAN_SEED = int(os.environ.get("GANFORGE_CRASH_SEED", "20240611"))  # other seeds: other kill plans
SIGNAL_STEPS = 30


def _final_state(run):
    meta, _ = latest_checkpoint(run)
    return meta, load_file(str(run / "checkpoints" / meta["tensors"]))


def _history(run):
    """metrics.jsonl without the wall-clock field (losses must match to the bit)."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in records]


def _assert_same_run(run, reference, steps, exact_history=True):
    meta, tensors = _final_state(run)
    ref_meta, ref_tensors = _final_state(reference)
    assert meta["step"] == ref_meta["step"] == steps
    assert meta["sampler_drawn"] == ref_meta["sampler_drawn"]
    assert tensors.keys() == ref_tensors.keys()
    for key in ref_tensors:
        assert torch.equal(tensors[key], ref_tensors[key]), key
    if exact_history:
        assert _history(run) == _history(reference)
    else:  # a stop between log steps loses that interval's partial loss sums (not checkpointed): steps only
        assert [r["step"] for r in _history(run)] == [r["step"] for r in _history(reference)]
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """``reference_run(steps)``: the uninterrupted run a crashed or stopped one must equal (cached)."""
    cache = {}

    def make(steps):
        if steps not in cache:
            run = tmp_path_factory.mktemp("reference") / "run"
            worker = Worker(train_argv(run, steps, EVERY, resume=False))
            assert worker.join() == 0
            assert worker.committed() == list(range(EVERY, steps + 1, EVERY))
            cache[steps] = run
        return cache[steps]

    return make


def _kill_plan():
    rng = random.Random(PLAN_SEED)
    plan = [("aimed", point, rng.randint(1, 2)) for point in WRITE_POINTS for _ in range(3)]
    plan += [("random", rng.uniform(0.0, 0.4), None) for _ in range(KILLS - len(plan))]
    rng.shuffle(plan)
    return plan


def test_sigkill_anywhere_then_resume_gives_the_uninterrupted_run(tmp_path, reference_run):
    run = tmp_path / "run"
    last_committed = None  # the newest checkpoint known to be complete on disk
    log = []
    for kind, arg, occurrence in _kill_plan():
        resume = (run / "config.yaml").is_file()
        worker = Worker(train_argv(run, STEPS, EVERY, resume), stop_at=(arg, occurrence) if kind == "aimed" else None)
        if kind == "aimed":
            paused = worker.wait_for(lambda e: e[0] == "paused", timeout=60)
            assert paused is not None, f"worker never reached {arg} #{occurrence}: {worker.events}"
        else:
            start = last_committed or 0
            deadline = time.monotonic() + arg
            while time.monotonic() < deadline:
                worker.poll(min(0.02, max(deadline - time.monotonic(), 0)))
                if max(worker.committed(), default=0) >= start + PROGRESS_CAP or not worker.process.is_alive():
                    break
        worker.kill()
        assert worker.process.exitcode == -signal.SIGKILL, "the run ended before it could be killed"

        # The resume restored exactly the checkpoint that was complete on disk.
        if last_committed is not None and resume:
            assert worker.restored()[:1] in ([last_committed], []), (worker.events, last_committed)
        elif resume:
            assert worker.restored() == []  # killed before its first checkpoint: starts again at step 0
        if worker.committed():
            last_committed = max(worker.committed())
        on_disk = latest_checkpoint(run)[0]["step"] if list_checkpoints(run) else None
        allowed = {last_committed} | ({(last_committed or 0) + EVERY} if kind == "random" else set())
        assert on_disk in allowed, (kind, arg, occurrence, on_disk, last_committed)
        last_committed = on_disk
        log.append((kind, arg, occurrence, on_disk))

    kills = len(log)
    assert kills >= 20
    assert {a for k, a, _, _ in log if k == "aimed"} == set(WRITE_POINTS)  # every write point was hit
    assert last_committed is not None and last_committed < STEPS, "all kills must land before the end"
    final = Worker(train_argv(run, STEPS, EVERY, resume=True))
    assert final.join() == 0
    assert final.restored() == [last_committed]
    _assert_same_run(run, reference_run(STEPS), STEPS)
    # Nothing left over: the last K checkpoints, no orphan tensor file, no temp file.
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == [f"step-{s:08d}.{ext}" for s in (STEPS - EVERY, STEPS) for ext in ("json", "safetensors")]
    assert not list(run.glob(".*.tmp-*"))
    print(f"\n{kills} SIGKILLs survived; resumed from steps {[s for *_, s in log]}")


@pytest.mark.parametrize("sig,code,delay", [(signal.SIGINT, 130, 0.0), (signal.SIGTERM, 143, 0.05)])
def test_sigint_sigterm_save_a_checkpoint_and_exit_cleanly(tmp_path, reference_run, sig, code, delay):
    """Exit code 128 + signal (130 SIGINT, 143 SIGTERM): stopped cleanly, but not finished."""
    steps = SIGNAL_STEPS
    run = tmp_path / "run"
    worker = Worker(train_argv(run, steps, EVERY, resume=False))
    assert worker.wait_for(lambda e: e == ("committed", EVERY), timeout=60)
    time.sleep(delay)  # 0: lands during the periodic checkpoint write; > 0: between checkpoints
    os.kill(worker.pid, sig)
    assert worker.join() == code
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "interrupted"
    meta, _ = latest_checkpoint(run)
    # The checkpoint is at the step where it stopped (not the previous periodic one).
    assert meta["step"] == status["step"] == max(worker.committed())
    assert EVERY <= meta["step"] < steps
    resumed = Worker(train_argv(run, steps, EVERY, resume=True))
    assert resumed.join() == 0
    assert resumed.restored() == [meta["step"]]
    _assert_same_run(run, reference_run(steps), steps, exact_history=meta["step"] % 3 == 0)
