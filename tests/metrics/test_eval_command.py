"""`ganforge eval`: a run (writes metrics.json), folder vs .npz comparison, --json, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.config import Config
from ganforge.data import load_dataset


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "dcgan-digits"
    ganforge.train(Config(recipe="dcgan", data="digits", steps=20, sample_every=0, out=str(out)))
    return out


def test_eval_run_writes_metrics_json_and_prints_json(tiny_run, capsys):
    assert main(["eval", str(tiny_run), "--metrics", "fid,pr", "--samples", "300", "--json"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    printed = json.loads(last)
    assert set(printed) == {"fid", "precision", "recall"} and printed["fid"] > 0
    saved = json.loads((tiny_run / "metrics.json").read_text())
    assert saved["fid"] == printed["fid"]
    assert saved["protocol"]["n_fake"] == 300 and saved["protocol"]["reference"] == "test"


def test_folder_vs_npz_with_a_dataset_classifier(tmp_path, capsys):
    test = load_dataset(Config(data="digits"), "test")
    folder = tmp_path / "real"
    folder.mkdir()
    for i, image in enumerate(test.x[:120]):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")
    np.savez(tmp_path / "same.npz", x=test.x[:120].numpy())
    code = main(["eval", "--real", str(folder), "--fake", str(tmp_path / "same.npz"), "--data", "digits",
                 "--metrics", "fid,pr", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["fid"] == pytest.approx(0, abs=1e-6) and result["precision"] == 1.0  # identical sets


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["eval", "--real", str(tmp_path)]) == 2
    assert main(["eval", "--real", str(tmp_path), "--fake", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--metrics", "nope"]) == 2
    assert "unknown metric" in capsys.readouterr().err
