"""The hostile-input catalogue (issue 18), part 3 of 3: what ``train``, ``sample`` and ``eval`` are given
on the command line: values, sample files (``eval --real/--fake``), runs and checkpoints, options and
sampling knobs.

Same rows and guarantees as ``test_bad_inputs.py`` (runner: ``catalogue.py``): exit code 2, one
``ganforge: error:`` line naming the problem (and the fix), no traceback, nothing half-written.
Image folders: ``test_hostile_images.py``; data files, configs and output paths: ``test_hostile_files.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.catalogue import (OUT, TINY, TOY, check_one_clear_error, edit_run, image_folder, png_bytes,
                                         write_file, write_png, write_yaml)

TOY_ARGS = ["--recipe", "vanilla", "--data", "toy-ring", *TINY]
EVAL_NPZ = ["eval", "--real", "{setup}", "--fake", "{setup}", "--metrics", "fid", "--extractor", "inception"]


# -- builders -------------------------------------------------------------------------------------
def _npz(tmp, x=None, cut=None, raw=None, zip_text=None, npy=None):
    path = tmp / "samples.npz"
    if raw is not None:
        path.write_bytes(raw)
    elif zip_text is not None:
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", zip_text)
    elif npy is not None:
        with open(path, "wb") as f:
            np.save(f, npy)
    else:
        np.savez(path, x=x)
        if cut:
            _trunc(path, int(path.stat().st_size * cut))
    return path


def _latest_json(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*.json"))[-1]


def _remove_checkpoints(run):
    for p in (run / "checkpoints").iterdir():
        p.unlink()


def _trunc(path: Path, keep: int):
    path.write_bytes(path.read_bytes()[:keep])


GROUPS = {
    # --- command-line values --------------------------------------------------------------------------
    "command-line values": [
        ("cli-seed-huge", ["train", *TOY, "--seed", str(2**80), "--out", OUT], None, "'seed'"),
        ("cli-seed-negative", ["train", "--recipe", "tabular-gan", "--data", "moons", "--seed", "-1", "--out", OUT],
         None, "'seed'"),
        ("cli-lr-text", ["train", *TOY, "--lr-g", "fast", "--out", OUT], None, "'lr_g'"),
        ("cli-recipe-5000-chars", ["train", "--recipe", "r" * 5000, "--out", OUT], None, "unknown recipe 'rrr"),
        ("cli-recipe-is-a-path", ["train", "--recipe", "{setup}", "--out", OUT],
         lambda t, r: write_yaml(t, "steps: [1,\n").with_suffix(""), "unknown recipe"),
        ("cli-dataset-5000-chars", ["train", "--data", "d" * 5000, "--out", OUT], None, "unknown dataset 'ddd"),
        ("cli-z-dim-zero", ["train", *TOY, "--z-dim", "0", "--out", OUT], None, "'z_dim'"),
        ("cli-options-python-tag", ["train", *TOY, "--options", "!!python/object/apply:os.system [ls]", "--out", OUT],
         None, "'options'"),
        ("cli-options-list", ["train", *TOY, "--options", "[1, 2]", "--out", OUT], None, "'options'"),
        ("cli-nul-in-out", ["train", *TOY, "--out", "{tmp}/a\x00b"], None, "NUL"),
        ("cli-100k-value", ["train", *TOY, "--lr-g", "x" * 100_000, "--out", OUT], None, "characters ...]"),
        ("cli-100k-options", ["train", *TOY, "--options", "{n_modes: " + "9" * 100_000 + "}", "--out", OUT], None,
         "'options'"),
        ("cli-escape-codes-in-value", ["train", *TOY, "--device", "\x1b[2J\x1b[31mcpu", "--out", OUT], None,
         "\\x1b[2J"),
        ("cli-resume-a-file", ["train", "--resume", "{setup}"], lambda t, r: write_file(t, "x", "afile"),
         "not a ganforge run folder"),
        ("cli-config-missing-and-resume", ["train", "--resume", "{run}", "--config", "{tmp}/none.yaml"], None,
         "does not exist"),
        ("sample-negative-n", ["sample", "{run}", "-n", "-3", "--out", "{tmp}/s.npz"], None, "-n must be between"),
        ("sample-seed-huge", ["sample", "{run}", "--seed", str(2**80), "--out", "{tmp}/s.npz"], None,
         "--seed must be between 0 and"),
        ("sample-seed-negative", ["sample", "{run}", "--seed", "-1", "--out", "{tmp}/s.npz"], None, "--seed must be"),
        ("sample-nrow-negative", ["sample", "{cgan}", "--nrow", "-3", "--out", "{tmp}/s.png"], None,
         "--nrow must be at least 1"),
        ("sample-device-unsupported", ["sample", "{run}", "--device", "xla", "--out", "{tmp}/s.npz"], None,
         "device 'xla' is not supported"),
        ("sample-device-not-here", ["sample", "{run}", "--device", "cuda:99", "--out", "{tmp}/s.npz"], None,
         "cuda:99"),
        ("train-device-not-here", ["train", *TOY, "--device", "mps:0", "--out", OUT], None, "'mps:0'"),
        ("eval-seed-huge", ["eval", "{run}", "--seed", str(2**64)], None, "--seed must be between"),
        ("eval-device-not-here", ["eval", "{run}", "--device", "cuda:99"], None, "cuda:99"),
        ("eval-samples-one", ["eval", "{run}", "--samples", "1"], None, "--samples must be between"),
        ("eval-unknown-metric", ["eval", "{run}", "--metrics", "fidd"], None, "fidd"),
        ("eval-run-and-files", ["eval", "{run}", "--real", "{tmp}", "--fake", "{tmp}"], None, "not both"),
        ("eval-only-real", ["eval", "--real", "{tmp}"], None, "give both --real and --fake"),
    ],
    # --- eval --real/--fake sample files (.npz) ----------------------------------------------------------
    "eval sample files": [
        ("npz-truncated", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 3), np.float32), cut=0.5), "File is not a zip"),
        ("npz-empty-file", EVAL_NPZ, lambda t, r: _npz(t, raw=b""), "cannot read"),
        ("npz-no-arrays", EVAL_NPZ, lambda t, r: _npz(t, zip_text="hello"), "holds no arrays"),
        ("npz-object-array", EVAL_NPZ, lambda t, r: _npz(t, x=np.array([{"a": 1}, None], dtype=object)),
         "allow_pickle=False"),
        ("npz-strings", EVAL_NPZ, lambda t, r: _npz(t, x=np.array(["a", "b"])), "must be uint8"),
        ("npz-complex-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 3), np.complex64)), "real numbers"),
        ("npz-nan-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.full((4, 3), np.nan, np.float32)), "NaN or infinite"),
        ("npz-overflowing-vectors", EVAL_NPZ, lambda t, r: _npz(t, x=np.full((4, 3), 1e300)), "too large for float32"),
        ("npz-a-scalar", EVAL_NPZ, lambda t, r: _npz(t, x=np.array(5.0)), "a single value"),
        ("npz-is-npy", EVAL_NPZ, lambda t, r: _npz(t, npy=np.zeros((4, 3), np.float32)), "not an .npz archive"),
        ("npz-one-sample", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((1, 3), np.float32)), "at least 2"),
        ("npz-five-channel-images", EVAL_NPZ, lambda t, r: _npz(t, x=np.zeros((4, 5, 8, 8), np.uint8)),
         "1 or 3 channels"),
        ("eval-real-is-a-text-file", EVAL_NPZ, lambda t, r: write_file(t, "x", "real.txt"),
         "neither a folder of images nor an .npz"),
        ("eval-folder-mixed-sizes", EVAL_NPZ, lambda t, r: write_png(write_png(t / "ev" / "a.png").parent / "b.png",
                                                                np.zeros((9, 8, 3), np.uint8)).parent,
         "mixes image sizes"),
        ("eval-folder-one-image", EVAL_NPZ, lambda t, r: write_png(t / "ev" / "a.png").parent, "at least 2"),
        ("eval-folder-no-images", EVAL_NPZ, lambda t, r: write_file(t, "x", "notes.txt").parent, "holds no images"),
        ("eval-inception-weights-junk", EVAL_NPZ + ["--inception-weights", "{tmp}/junk.pt"],
         lambda t, r: write_file(t, b"junk" * 100, "junk.pt") and _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)),
         "cannot read Inception weights"),
        ("eval-inception-weights-missing", EVAL_NPZ + ["--inception-weights", "{tmp}/none.pt"],
         lambda t, r: _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)), "none.pt' does not exist"),
        ("eval-unknown-extractor", ["eval", "--real", "{setup}", "--fake", "{setup}", "--extractor", "vgg"],
         lambda t, r: _npz(t, x=np.zeros((4, 3, 8, 8), np.uint8)), "unknown feature extractor 'vgg'"),
    ],
    # --- runs and checkpoints -------------------------------------------------------------------------
    "runs and checkpoints": [
        ("resume-corrupt-config-yaml", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: edit_run(r, t, lambda run: (run / "config.yaml").write_text("steps: [1,\n")), "not valid YAML"),
        ("resume-config-unknown-key", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: edit_run(r, t, lambda run: (run / "config.yaml").write_text("stepz: 3\n")), "'stepz'"),
        ("resume-truncated-checkpoint-json", ["train", "--resume", "{setup}", "--steps", "4"],
         lambda t, r: edit_run(r, t, lambda run: _trunc(_latest_json(run), 20)), "checkpoint"),
        ("sample-no-checkpoints", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: edit_run(r, t, _remove_checkpoints), "no complete checkpoint"),
        ("sample-truncated-checkpoint-json", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(edit_run(r, t, lambda run: _trunc(_latest_json(run), 20))), "step-"),
        ("sample-checkpoint-json-not-object", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(edit_run(r, t, lambda run: _latest_json(run).write_text("[1, 2]"))), "step-"),
        ("sample-empty-tensor-file", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: _latest_json(edit_run(r, t, lambda run: _trunc(_latest_json(run).with_suffix(".safetensors"), 0))),
         "tampered"),
        ("sample-a-text-file", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: write_file(t, "hello", "notes.txt"), "notes.txt"),
        ("sample-random-safetensors", ["sample", "{setup}", "--out", "{tmp}/s.npz"],
         lambda t, r: write_file(t, os.urandom(256), "model.safetensors"), "model.json does not exist"),
        ("eval-missing-run", ["eval", "{tmp}/nothing", "--metrics", "fid"], None, "does not exist"),
    ],
    # --- typed options, sampling knobs and inputs (recipes of any shape, issue 11) ----------------------
    "options, knobs and inputs": [
        ("option-misspelt", ["train", *TOY_ARGS, "--options", "{n_sample: 256}", "--out", OUT], None,
         "unknown option 'n_sample'"),
        ("option-of-another-recipe", ["train", *TOY_ARGS, "--options", "{aux_weight: 2}", "--out", OUT], None,
         "Valid options:"),
        ("option-wrong-type", ["train", "--recipe", "acgan", *TINY, "--options", "{aux_weight: heavy}", "--out", OUT],
         None, "option 'aux_weight' of recipe 'acgan' is 'heavy'"),
        ("sample-truncation-on-dcgan", ["sample", "{run}", "--truncation", "0.5", "--out", "{tmp}/s.png"], None,
         "does not take truncation"),
        ("sample-domain-on-cgan", ["sample", "{cgan}", "--domain", "B", "--out", "{tmp}/s.png"], None,
         "does not take domain"),
        ("sample-code-malformed", ["sample", "{run}", "--code", "cat", "--out", "{tmp}/s.png"], None,
         "is not a list of NAME=NUMBER pairs"),
        ("sample-mix-malformed", ["sample", "{run}", "--mix", "3", "--out", "{tmp}/s.png"], None, "must be two seeds"),
        ("sample-input-on-a-noise-recipe", ["sample", "{cgan}", "--input", "{setup}", "--out", "{tmp}/s"],
         lambda t, r: image_folder(t, "x.png", png_bytes((8, 8))), "does not take inputs"),
        ("sample-input-missing-folder", ["sample", "{cgan}", "--input", "{tmp}/nothing", "--out", "{tmp}/s"], None,
         "is not a folder"),
    ],
}
CASES = [case for cases in GROUPS.values() for case in cases]
SURFACES = dict((name, [c[0] for c in cases]) for name, cases in GROUPS.items())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clear_error(tmp_path, trained, capsys, monkeypatch, case):
    check_one_clear_error(case, tmp_path, trained, capsys, monkeypatch)


def test_catalogue_ids_are_unique_and_surfaces_cover_them():
    from tests.reliability import test_hostile_commands, test_hostile_files, test_hostile_images
    from tests.reliability.catalogue import all_cases

    ids = [c[0] for c in all_cases()]
    assert len(ids) == len(set(ids))
    for module in (test_hostile_images, test_hostile_files, test_hostile_commands):
        assert sum(len(v) for v in module.SURFACES.values()) == len(module.CASES)
