"""The run folder's own files, its lock, and stopping cleanly on SIGINT / SIGTERM."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import torch

from ganforge.errors import GanforgeError
from ganforge.train import distributed
from ganforge.utils.files import atomic_write_text
from ganforge.version import __version__

LOCK_NAME = ".lock"


class RunLock:
    """An exclusive lock on a run folder while a training writes it, so that two trainings never write
    one run: the second gets a clear error naming the holder's pid. An OS lock (``flock``), released by
    the kernel when the holder dies, so a crash never leaves a stale lock. ``None``: no folder, no lock."""

    def __init__(self, run_dir: Path | None):
        self.run_dir, self._fd = run_dir, None

    def __enter__(self) -> "RunLock":
        if self.run_dir is None:
            return self
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (documented)
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise GanforgeError(f"run folder {self.run_dir} is being written by another training (pid {holder}); "
                                f"wait for it to finish, stop it, or choose another --out.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def write_run_files(trainer, status: str, error: str | None = None) -> None:
    from ganforge.train.state import dataset_info

    run_dir = trainer.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", trainer.cfg.to_yaml())
    atomic_write_text(run_dir / "data.json", json.dumps(dataset_info(trainer.dataset), indent=1))
    atomic_write_text(run_dir / "run.json", json.dumps(
        {"status": status, "step": trainer.step, "steps": trainer.cfg.steps, "rollbacks": trainer.rollbacks,
         "ganforge_version": __version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
         "precision": trainer.precision, "precision_requested": trainer.cfg.precision,
         "threads": torch.get_num_threads(), "distributed": distributed.describe(trainer.dist, trainer.cfg),
         **({"error": error} if error else {})}, indent=1))


class StopSignals:
    """SIGINT / SIGTERM ask the loop to stop after the current step (it then saves a checkpoint); a
    second one stops at once. Under DDP the decision is agreed by all ranks once per step: a signal
    reaches each rank at a different moment, and ranks that disagree would deadlock in collectives."""

    def __init__(self, dist):
        self.dist, self.received = dist, None

    @contextlib.contextmanager
    def installed(self, enabled: bool = True):
        previous = {}
        if enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, frame) -> None:
        if self.received is not None:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.received = signum

    def agreed(self) -> bool:
        stop = distributed.any_rank(self.dist, self.received is not None)
        if stop and self.received is None:
            self.received = signal.SIGTERM  # another rank was signalled
        return stop
