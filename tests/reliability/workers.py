"""Training workers for the crash-safety tests: forked, killable, instrumented.

Why a fork server: importing torch + ganforge costs seconds (more on a loaded CI box); paying it once
in a fork server and forking a worker per (re)start keeps 20+ kill/resume rounds within budget. Each
worker runs the real command line, ``ganforge.cli.main(["train", ...])``, and exits with its return
code, so the signal path (handlers, exit code) is exactly what a user gets.

Aiming kills at checkpoint writes: the worker wraps the writers that ``ganforge.train.checkpoint``
calls (in the *worker only*; production code has no test hook) and reports each *write point* to the
parent through a pipe. Points, in the order one checkpoint passes them:

  tensor-partial  the tensor temp file holds half its bytes (not renamed)
  tensor-final    the tensor file is in place, its JSON commit marker is not
  json-partial    the JSON temp file holds half its bytes (not renamed)
  committed       the JSON is renamed into place, old checkpoints not yet pruned
  mid-prune       the oldest checkpoint's tensor file is deleted, its JSON not yet

Told to stop at the k-th occurrence of a point, the worker reports ``("paused", point, step)`` and
sleeps; the parent SIGKILLs it there. Every commit is reported as ``("committed", step)`` and every
restore as ``("restored", step)``, so the parent knows which checkpoint must survive the kill.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import re
import sys
import time
from pathlib import Path

import torch

WRITE_POINTS = ("tensor-partial", "tensor-final", "json-partial", "committed", "mid-prune")
_STEP = re.compile(r"step-(\d+)")

# Tiny, fast and deterministic: vanilla GAN (MLPs) on the 8-mode ring, EMA on, Adam; CPU.
TRAIN_FLAGS = ["--recipe", "vanilla", "--data", "toy-ring", "--options", "{n_samples: 2048}", "--g-width", "16",
               "--d-width", "16", "--z-dim", "4", "--batch-size", "32", "--ema-decay", "0.9", "--log-every", "3",
               "--sample-every", "0", "--keep-checkpoints", "2", "--deterministic", "--device", "cpu", "--seed", "11"]


def train_argv(run: Path, steps: int, checkpoint_every: int, resume: bool) -> list[str]:
    if resume:
        return ["train", "--resume", str(run)]
    return ["train", *TRAIN_FLAGS, "--steps", str(steps), "--checkpoint-every", str(checkpoint_every), "--out", str(run)]


def _step_of(path) -> int | None:
    m = _STEP.search(Path(path).name)
    return int(m[1]) if m else None


def _install_hooks(conn, stop_at: tuple[str, int] | None) -> None:
    from safetensors.torch import save_file as real_save_file

    from ganforge.train import checkpoint as ckpt
    from ganforge.train.trainer import Trainer
    from ganforge.utils.files import atomic_write

    seen: dict[str, int] = {}

    def point(name: str, step: int | None) -> None:
        seen[name] = seen.get(name, 0) + 1
        if name == "committed":
            conn.send(("committed", step))
        if stop_at and stop_at == (name, seen[name]):
            conn.send(("paused", name, step))
            time.sleep(120)  # the parent kills us here
            os._exit(99)

    def half_written(tmp: Path, write_full, name: str, step: int | None) -> None:
        write_full(tmp)
        if stop_at and stop_at[0] == name and seen.get(name, 0) + 1 == stop_at[1]:
            data = tmp.read_bytes()
            tmp.write_bytes(data[: len(data) // 2])  # what a kill in the middle of the write leaves
        point(name, step)
        write_full(tmp)

    def save_file(tensors, filename, metadata=None):
        half_written(Path(filename), lambda p: real_save_file(tensors, str(p), metadata=metadata),
                     "tensor-partial", _step_of(filename))

    def atomic_write_text(path, text):
        point("tensor-final", _step_of(path))
        out = atomic_write(path, lambda tmp: half_written(tmp, lambda p: p.write_text(text), "json-partial",
                                                          _step_of(path)))
        point("committed", _step_of(path))
        return out

    real_prune = ckpt.prune_checkpoints

    def prune_checkpoints(run_dir, keep):
        doomed = ckpt.list_checkpoints(run_dir)[:-keep]
        if doomed and stop_at and stop_at[0] == "mid-prune":
            doomed[0].with_suffix(".safetensors").unlink(missing_ok=True)
            point("mid-prune", _step_of(doomed[0]))
        return real_prune(run_dir, keep)

    real_restore = Trainer.restore

    def restore(self, meta_tensors):
        real_restore(self, meta_tensors)
        conn.send(("restored", self.step))

    ckpt.save_file, ckpt.atomic_write_text, ckpt.prune_checkpoints = save_file, atomic_write_text, prune_checkpoints
    Trainer.restore = restore


def _worker_main(argv: list[str], conn, stop_at) -> None:
    torch.set_num_threads(1)  # same arithmetic in every worker (bit-exact comparison); fork-safe OpenMP
    _install_hooks(conn, stop_at)
    from ganforge.cli import main

    code = main(argv)
    conn.send(("exit", code))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _context():
    """A fork server: a fresh process that imports torch + ganforge once (``_preload``) and forks each
    worker from there. Forking the pytest process itself would be cheaper still, but by the time these
    tests run it has done arbitrary torch work (OpenMP thread pools are not fork-safe)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.reliability._preload"])
    return ctx


class Worker:
    """One forked ``ganforge`` process; ``events`` collects what it reported."""

    def __init__(self, argv: list[str], stop_at: tuple[str, int] | None = None):
        ctx = _context()
        self._recv, send = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker_main, args=(argv, send, stop_at), daemon=True)
        self.process.start()
        send.close()
        self.events: list[tuple] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self, timeout: float) -> tuple | None:
        """The next event, or None after ``timeout`` seconds (or when the worker is gone)."""
        try:
            if self._recv.poll(timeout):
                event = self._recv.recv()
                self.events.append(event)
                return event
        except (EOFError, OSError):
            return None
        return None

    def drain(self) -> None:
        while self.poll(0) is not None:
            pass

    def wait_for(self, predicate, timeout: float) -> tuple | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.poll(min(left, 0.5))
            if event is not None and predicate(event):
                return event
            if event is None and not self.process.is_alive():
                self.drain()
                return None
        return None

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler, no cleanup, no flush
        self.process.join(30)
        self.drain()

    def join(self, timeout: float = 120) -> int:
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            raise AssertionError(f"worker {self.pid} did not finish in {timeout}s")
        self.drain()
        return self.process.exitcode

    def committed(self) -> list[int]:
        return [e[1] for e in self.events if e[0] == "committed"]

    def restored(self) -> list[int]:
        return [e[1] for e in self.events if e[0] == "restored"]
