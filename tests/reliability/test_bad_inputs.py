"""A catalogue of bad inputs, each run through the command line (``ganforge.cli.main`` in-process).

Every row: exit code 2, one ``ganforge: error:`` message containing the expected fragment (it names
the problem; most also name the fix), no traceback, and no run folder that looks valid left behind
(no config.yaml, no checkpoint) when the failure comes before training. Rows that need a trained
model share one tiny run (``trained``, conftest.py); rows that need files build them under ``tmp_path``.
The runner and the guarantees checked are in ``catalogue.py``; more surfaces in ``test_hostile_images.py``,
``test_hostile_files.py`` and ``test_hostile_commands.py``.
"""
from __future__ import annotations

import gzip
import shutil

import pytest

from tests.reliability.catalogue import (OUT, TINY, TOY, check_one_clear_error, edit_run, write_file, write_png,
                                         write_yaml)


def _setup_corrupt_idx(tmp):
    folder = tmp / "fashion-mnist"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03garbage"))
    return folder


def _setup_truncated_png(tmp):
    folder = tmp / "images"
    for i in range(4):
        write_png(folder / f"{i}.png")
    data = (folder / "0.png").read_bytes()
    (folder / "0.png").write_bytes(data[: len(data) // 2])
    return folder


def _copy_run(trained, tmp, name="vanilla"):
    run = tmp / "copy"
    shutil.copytree(trained[name], run)
    return run


def _tamper(run):
    for tensors in (run / "checkpoints").glob("*.safetensors"):
        data = bytearray(tensors.read_bytes())
        data[len(data) // 2] ^= 0xFF
        tensors.write_bytes(bytes(data))
    return run


# (id, argv with {tmp} / {run} / {cgan} / {setup} placeholders, setup(tmp, trained) -> path or None, fragment)
GROUPS = {"names and keys": [
    ("unknown-recipe", ["train", "--recipe", "stylegan9", "--out", OUT], None, "unknown recipe 'stylegan9'"),
    ("unknown-dataset", ["train", "--data", "imagenet-22k", "--out", OUT], None, "unknown dataset 'imagenet-22k'"),
    ("unknown-architecture", ["train", *TOY, "--architecture", "transformer", "--out", OUT], None,
     "unknown architecture 'transformer'"),
    ("unknown-loss", ["train", *TOY, "--loss", "wasserstein-9", "--out", OUT], None, "Did you mean 'wasserstein'"),
    ("unknown-flag", ["train", "--stepz", "3"], None, "unrecognized arguments: --stepz"),
    ("unknown-key-in-yaml", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "lr_gen: 0.1\n"),
     "unknown config key 'lr_gen'"),
    ("unknown-command", ["fly"], None, "invalid choice: 'fly'"),
], "values": [
    ("negative-lr", ["train", *TOY, "--lr-g", "-0.001", "--out", OUT], None, "a learning rate must be in (0, 10]"),
    ("nan-lr", ["train", *TOY, "--lr-d", "nan", "--out", OUT], None, "must be a finite number"),
    ("inf-lr", ["train", *TOY, "--lr-d", "inf", "--out", OUT], None, "must be a finite number"),
    ("text-steps", ["train", *TOY, "--steps", "ten", "--out", OUT], None, "'steps' must be of type int"),
    ("zero-steps", ["train", *TOY, "--steps", "0", "--out", OUT], None, "'steps'"),
    ("fractional-batch", ["train", *TOY, "--batch-size", "2.5", "--out", OUT], None, "'batch_size' must be of type int"),
    ("huge-batch", ["train", *TOY, "--batch-size", str(10**9), "--out", OUT], None, "between 1 and 65536"),
    ("huge-image-size", ["train", "--image-size", "100000", "--out", OUT], None, "'image_size'"),
    ("huge-width", ["train", *TOY, "--g-width", str(10**7), "--out", OUT], None, "'g_width'"),
    ("huge-model-dcgan", ["train", "--recipe", "dcgan", "--g-width", "100000", "--out", OUT], None,
     "parameters (generator"),
    ("huge-model-mlp", ["train", *TOY, "--d-width", "60000", "--out", OUT], None, "lower --g-width / --d-width"),
    ("huge-steps", ["train", *TOY, "--steps", str(10**12), "--out", OUT], None, "'steps'"),
    ("bad-bool", ["train", *TOY, "--deterministic", "maybe", "--out", OUT], None, "must be of type bool"),
    ("bad-choice", ["train", *TOY, "--precision", "fp8", "--out", OUT], None, "choose one of fp32, bf16"),
    ("ema-decay-one", ["train", *TOY, "--ema-decay", "1", "--out", OUT], None, "'ema_decay'"),
    ("negative-checkpoint-every", ["train", *TOY, "--checkpoint-every", "-5", "--out", OUT], None, "must not be negative"),
    ("bad-device", ["train", *TOY, "--device", "tpu", "--out", OUT], None, "'device'"),
    ("options-not-a-mapping", ["train", *TOY, "--options", "[1, 2", "--out", OUT], None, "'options'"),
    ("toy-option-out-of-range", ["train", *TOY, "--options", "{n_modes: -1}", "--out", OUT], None, "'n_modes'"),
    ("image-size-30-for-dcgan", ["train", "--recipe", "dcgan", "--image-size", "30", "--out", OUT], None,
     "cannot produce 30x30 images"),
    ("resnet-on-vectors", ["train", *TOY, "--architecture", "resnet", "--out", OUT], None, "needs image data"),
], "files: config, data": [
    ("missing-config-file", ["train", "--config", "{tmp}/nope.yaml", "--out", OUT], None, "does not exist"),
    ("invalid-yaml", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "steps: [1, 2\n"),
     "not valid YAML"),
    ("yaml-list", ["train", "--config", "{setup}", "--out", OUT], lambda t, r: write_yaml(t, "- 1\n- 2\n"), "mapping"),
    ("yaml-python-tag", ["train", "--config", "{setup}", "--out", OUT],
     lambda t, r: write_yaml(t, "steps: !!python/object/apply:os.system ['echo pwned']\n"), "not valid YAML"),
    ("missing-data-dir", ["train", "--data", "fashion-mnist", "--data-dir", "{tmp}/nowhere", "--out", OUT], None,
     "that directory does not exist"),
    ("corrupt-idx", ["train", "--data", "fashion-mnist", "--data-dir", "{setup}", "--out", OUT],
     lambda t, r: _setup_corrupt_idx(t), "too short (11 bytes) to be an IDX file"),
    ("empty-image-folder", ["train", "--data", "image-folder", "--data-dir", "{setup}", "--out", OUT],
     lambda t, r: (t / "empty").mkdir() or t / "empty", "no PNG/JPG/JPEG images"),
    ("truncated-png", ["train", "--data", "image-folder", "--data-dir", "{setup}", *TINY, "--out", OUT],
     lambda t, r: _setup_truncated_png(t), "cannot read image"),
    ("tabular-missing-csv", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path",
                             "{tmp}/none.csv", "--out", OUT], None, "none.csv' does not exist"),
    ("tabular-empty-csv", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path", "{setup}",
                           "--out", OUT], lambda t, r: write_file(t, ""), "is empty"),
    ("tabular-non-numeric-value", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path",
                                   "{setup}", "--options", "{column_types: {age: continuous}}", "--out", OUT],
     lambda t, r: write_file(t, "age,job\n31,a\nforty,b\n25,a\n"), "column 'age' is numeric but has non-numeric"),
    ("tabular-unknown-target", ["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path", "{setup}",
                                "--target", "salary", "--out", OUT],
     lambda t, r: write_file(t, "age,job\n31,a\n40,b\n25,a\n"), "target column 'salary' is not in"),
], "runs and checkpoints": [
    ("resume-not-a-run", ["train", "--resume", "{tmp}"], None, "not a ganforge run folder"),
    ("resume-other-recipe", ["train", "--resume", "{setup}", "--recipe", "dcgan", "--steps", "4"],
     lambda t, r: _copy_run(r, t, "cgan"), "written by recipe 'cgan'"),
    ("resume-tampered", ["train", "--resume", "{setup}", "--steps", "4"], lambda t, r: edit_run(r, t, _tamper),
     "tampered"),
    ("train-over-existing-run", ["train", *TOY, "--out", "{setup}"], lambda t, r: _copy_run(r, t), "--resume"),
    ("sample-missing-run", ["sample", "{tmp}/nothing", "--out", "{tmp}/s.png"], None, "does not exist"),
    ("sample-tampered", ["sample", "{setup}", "--out", "{tmp}/s.npz"], lambda t, r: edit_run(r, t, _tamper),
     "tampered"),
    ("sample-class-on-unconditional", ["sample", "{run}", "--class", "3", "--out", "{tmp}/s.npz"], None,
     "unconditional"),
    ("sample-class-out-of-range", ["sample", "{cgan}", "--class", "10", "--out", "{tmp}/s.png"], None,
     "class 10 does not exist"),
    ("sample-zero", ["sample", "{run}", "-n", "0", "--out", "{tmp}/s.npz"], None, "-n must be between"),
    ("sample-huge", ["sample", "{run}", "-n", str(10**12), "--out", "{tmp}/s.npz"], None, "-n must be between"),
    ("sample-bad-suffix", ["sample", "{cgan}", "--out", "{tmp}/s.bmp"], None, "unknown output type '.bmp'"),
    ("sample-png-of-vectors", ["sample", "{run}", "--out", "{tmp}/s.png"], None, "generates vectors"),
    ("sample-text-n", ["sample", "{run}", "-n", "many"], None, "invalid int value: 'many'"),
    ("sample-a-pickle", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
     lambda t, r: (t / "model.pt").write_bytes(b"\x80\x04K\x01.") and t / "model.pt", "never loads pickled"),
]}
CASES = [case for cases in GROUPS.values() for case in cases]
SURFACES = {f"CLI {name}": [c[0] for c in cases] for name, cases in GROUPS.items()}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_error(tmp_path, trained, capsys, monkeypatch, case):
    check_one_clear_error(case, tmp_path, trained, capsys, monkeypatch)


def test_the_catalogue_is_big_enough():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)
