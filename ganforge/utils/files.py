"""Atomic file writes: a reader (or a crash) never sees a half-written file."""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Callable


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)``, fsync, then rename over ``path``: all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_writable_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Fail *before any work* if folder ``path`` cannot be created or written to (a ``GanforgeError``
    naming it, e.g. ``--out /proc/forbidden``, a read-only mount, a path through a file).

    The check creates the missing folders, writes and removes a temp file in the deepest one, then
    removes the folders it created: nothing is left behind, whatever the outcome. Returns ``Path(path)``.
    (Not a lock: a folder can still become unwritable later; this catches the mistakes made when typing.)
    """
    from ganforge.errors import GanforgeError

    path = Path(path).expanduser()
    fix = f"choose a writable location for the {what}"
    if "\x00" in str(path):
        raise GanforgeError(f"{what} {str(path)!r} contains a NUL byte; {fix}.")
    created, missing, doing = [], None, "create"
    try:
        if path.exists() and not path.is_dir():
            raise GanforgeError(f"{what} {path} is an existing file, not a folder; remove it or {fix}.")
        missing = [p for p in [path, *path.parents] if not p.exists()]
        for folder in reversed(missing):  # shallowest first
            if not folder.exists():  # ("a/.." exists once "a" does)
                folder.mkdir()
                created.append(folder)
        doing = "write into"
        probe = path / f".ganforge-write-test-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"ok")
        probe.unlink()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        where = f" at {e.filename}" if created != missing and getattr(e, "filename", None) \
            and str(e.filename) != str(path) else ""
        raise GanforgeError(f"cannot {doing} the {what} {path} ({reason}{where}); {fix}.") from None
    finally:
        for folder in reversed(created):  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Fail before any work if file ``path`` cannot be written: its folder is checked with
    :func:`ensure_writable_dir` and a temp file named like :func:`atomic_write`'s is created and
    removed beside it (a name too long or not allowed fails here); ``path`` must not be a folder.
    Nothing is left behind. (An existing file is fine: ``atomic_write`` replaces it by a rename.)"""
    from ganforge.errors import GanforgeError

    path = Path(path).expanduser()
    if "\x00" in str(path):
        raise GanforgeError(f"{what} {str(path)!r} contains a NUL byte; choose another name.")
    parent = ensure_writable_dir(path.parent if str(path.parent) else Path("."), f"folder of the {what}")
    probe = parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        if path.is_dir():
            raise GanforgeError(f"{what} {path} is an existing folder; give a file name, e.g. "
                                f"{path / 'out'}{path.suffix}.")
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as e:
        raise GanforgeError(f"cannot write the {what} {path} ({e.strerror or type(e).__name__}); "
                            f"choose another name or folder.") from None
    return path
