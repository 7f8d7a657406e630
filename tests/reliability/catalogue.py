"""The hostile-input catalogue: shared runner and the table of every catalogued case.

A catalogue table is a list of rows ``(id, argv, setup, fragment)`` or ``(id, argv, setup, fragment, env)``:
- ``argv``: a ``ganforge`` command line with placeholders ``{tmp}`` (the test's tmp_path), ``{run}`` /
  ``{cgan}`` (tiny finished runs, shared), ``{setup}`` (what ``setup`` returned);
- ``setup(tmp, trained) -> path | None`` builds the hostile files;
- ``fragment``: text the one error line must contain (the problem, usually also the fix);
- ``env``: environment variables set for that row only.

The tables are ``CASES`` of ``test_bad_inputs.py``, ``test_hostile_images.py``, ``test_hostile_files.py`` and
``test_hostile_commands.py``; the few files that rows of several tables build (a PNG, an image folder,
a text or YAML file, an edited copy of a run) are made by the builders here.

Every row is checked the same way (``check_one_clear_error``): exit code 2, one ``ganforge: error:``
line (argparse errors: usage + that line), no traceback, no run folder that looks valid in ``{tmp}/out``,
no file changed in anything the row set up, and no sample output written.

``GANFORGE_CATALOGUE_DUMP=FILE pytest tests/reliability -k one_clear`` writes every row's message to FILE
(to review them); ``python -m tests.reliability.catalogue`` prints the list that docs/RELIABILITY.md carries
(``tests/reliability/test_catalogue_doc.py`` checks that the doc is current).
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.cli import main

TINY = ["--g-width", "8", "--d-width", "8", "--z-dim", "2", "--batch-size", "16", "--steps", "2",
        "--sample-every", "0", "--device", "cpu"]
TOY = ["--recipe", "vanilla", "--data", "toy-ring", "--options", "{n_samples: 256}", *TINY]
OUT = "{tmp}/out"  # the --out of every failing `train`: must not look like a run afterwards
OUTPUTS = ("s.png", "s.npz", "s.csv", "s")  # sample outputs rows may name under {tmp}: never written


def fill(arg: str, tmp: Path, trained: dict, setup_path) -> str:
    for key, value in {"{tmp}": tmp, "{run}": trained["vanilla"], "{cgan}": trained["cgan"],
                       "{setup}": setup_path}.items():
        arg = arg.replace(key, str(value))
    return arg


def looks_like_a_run(path: Path) -> bool:
    return path.is_dir() and ((path / "config.yaml").exists() or any(path.glob("checkpoints/*.json")))


def _snapshot(tmp: Path) -> dict:
    found = {}
    for p in tmp.rglob("*"):
        try:
            found[p] = p.stat().st_mtime_ns
        except OSError:  # symlink loops, dangling links: part of some rows
            pass
    return found


def check_one_clear_error(case, tmp: Path, trained: dict, capsys, monkeypatch) -> str:
    """Run one catalogue row through ``ganforge.cli.main``; assert the guarantees; return the message."""
    name, argv, setup, fragment = case[:4]
    for key, value in (case[4] if len(case) > 4 else {}).items():
        monkeypatch.setenv(key, value)
    setup_path = setup(tmp, trained) if setup else None
    before = _snapshot(tmp)
    try:
        code = main([fill(a, tmp, trained, setup_path) for a in argv])
        usage_lines = False
    except SystemExit as e:  # argparse's own errors: the usage, then one error line
        code, usage_lines = e.code, True
    out, err = capsys.readouterr()
    assert code == 2, (name, out, err)
    assert "Traceback" not in err + out
    assert fragment in err, err
    assert err.count("error:") == 1, err
    if not usage_lines:
        assert err.startswith("ganforge: error:") and len(err.strip().splitlines()) == 1, err
    # Readable: no raw control characters (a hostile name's terminal escapes), not swollen by echoed values.
    message = err.strip().splitlines()[-1]
    assert message.isprintable() and len(message) <= 2100, message[:300]
    assert not looks_like_a_run(tmp / "out")
    # A failure never writes into what it was pointed at (a run, a data folder): nothing changed there,
    # and nothing new appeared beside it (temp files, half-made folders).
    after = _snapshot(tmp)
    changed = [p for p, t in before.items() if after.get(p, t) != t and p.is_file()]
    assert changed == [], changed
    new = [p for p in after if p not in before and not (p == tmp / "out" or tmp / "out" in p.parents)]
    assert new == [], new
    assert not any((tmp / name).exists() for name in OUTPUTS)
    if os.environ.get("GANFORGE_CATALOGUE_DUMP"):  # for reviewing the messages: one "id: message" line each
        with open(os.environ["GANFORGE_CATALOGUE_DUMP"], "a") as f:
            f.write(f"{name}: {message}\n")
    return err


# -- files that rows of several tables build (the hostile ones are built beside their rows) ----------
def write_png(path: Path, array=None, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8) if array is None else array).save(path, **save)
    return path


def image_folder(tmp: Path, bad_name: str, content: bytes | None = None, good: int = 3) -> Path:
    """An image folder with train/ and test/ (so the hostile file is in the split that training decodes):
    ``good`` fine PNGs in each, plus one hostile file ``train/bad_name`` (bytes ``content``)."""
    folder = tmp / "images"
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True)
        for i in range(good):
            write_png(folder / split / f"good-{i}.png")
    if content is not None:
        (folder / "train" / bad_name).write_bytes(content)
    return folder


def png_bytes(size=(8, 8), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def write_file(tmp, content: str | bytes, name="table.csv"):
    path = tmp / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def write_yaml(tmp, content: str | bytes):
    path = tmp / "config.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def edit_run(trained, tmp, edit):
    """A copy of the tiny unconditional run (``trained["vanilla"]``) under ``tmp``, changed by ``edit(run)``."""
    run = tmp / "copy"
    shutil.copytree(trained["vanilla"], run)
    edit(run)
    return run


def all_cases() -> list[tuple]:
    """Every catalogued hostile input, across the catalogue modules (ids are unique)."""
    from tests.reliability import test_bad_inputs, test_hostile_commands, test_hostile_files, test_hostile_images

    return [*test_bad_inputs.CASES, *test_hostile_images.CASES, *test_hostile_files.CASES, *test_hostile_commands.CASES]


def markdown() -> str:
    """The catalogue list for docs/RELIABILITY.md, grouped by surface."""
    from tests.reliability import test_bad_inputs, test_hostile_commands, test_hostile_files, test_hostile_images

    lines = [f"**The catalogue: {len(all_cases())} hostile inputs**, each a row run through the checks above "
             f"(list generated by `python -m tests.reliability.catalogue`; `test_catalogue_doc.py` keeps it current):",
             ""]
    groups = {**test_bad_inputs.SURFACES, **test_hostile_images.SURFACES, **test_hostile_files.SURFACES,
              **test_hostile_commands.SURFACES}
    for surface, ids in groups.items():
        lines.append(f"- *{surface}* ({len(ids)}): " + ", ".join(f"`{i}`" for i in ids))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("GANFORGE_OFFLINE", "1")
    print(markdown(), end="")
