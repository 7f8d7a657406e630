"""The CLI end to end (in-process): train, sample in every format, list, bench, and clean errors."""
import json

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

TINY = ["--steps", "4", "--batch-size", "16", "--g-width", "8", "--d-width", "8", "--z-dim", "8",
        "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(run_dir):
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "samples.png", "samples/step-00000002.png"):
        assert (run_dir / name).is_file()


def test_sample_formats(run_dir, tmp_path):
    assert main(["sample", str(run_dir), "-n", "9", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 8
    assert main(["sample", str(run_dir), "-n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["x"].shape == (5, 1, 8, 8) and arrays["x"].dtype == np.uint8
    assert main(["sample", str(run_dir), "-n", "3", "--out", str(tmp_path / "folder")]) == 0
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["000000.png", "000001.png", "000002.png"]


def test_same_seed_same_samples(run_dir, tmp_path):
    main(["sample", str(run_dir), "-n", "4", "--seed", "7", "--out", str(tmp_path / "a.npz")])
    main(["sample", str(run_dir), "-n", "4", "--seed", "7", "--out", str(tmp_path / "b.npz")])
    main(["sample", str(run_dir), "-n", "4", "--seed", "8", "--out", str(tmp_path / "c.npz")])
    a, b, c = (np.load(tmp_path / f"{n}.npz")["x"] for n in "abc")
    assert (a == b).all() and not (a == c).all()


def test_resume_extends_a_run(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["train", "--resume", str(copy), "--steps", "6"]) == 0
    assert json.loads((copy / "run.json").read_text())["step"] == 6


def test_list_and_bench(capsys):
    assert main(["list", "recipes"]) == 0
    assert "dcgan" in capsys.readouterr().out
    assert main(["bench", "train", *TINY, "--warmup", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["img_per_s"] > 0 and result["steps"] == 4


@pytest.mark.parametrize("argv,fragment", [
    (["train", "--recipe", "nope"], "unknown recipe"),
    (["train", "--data", "nope"], "unknown dataset"),
    (["train", "--image-size", "30"], "cannot produce"),
    (["train", "--steps", "abc"], "must be of type int"),
    (["train", "--config", "/nonexistent.yaml"], "does not exist"),
    (["train", "--resume", "/nonexistent-run"], "not a ganforge run folder"),
    (["sample", "/nonexistent-run"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing half-made


def test_sample_bad_requests(run_dir, tmp_path, capsys):
    assert main(["sample", str(run_dir), "--class", "3", "--out", str(tmp_path / "x.png")]) == 2
    assert "unconditional" in capsys.readouterr().err
    assert main(["sample", str(run_dir), "--out", str(tmp_path / "x.bmp")]) == 2
    assert main(["sample", str(run_dir), "-n", "0"]) == 2
    assert not (tmp_path / "x.png").exists()
