"""Detector of generated images: it learns real Fashion-MNIST vs a briefly trained generator (an untrained
detector does not), saves/loads, and the detect train / score commands work end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.provenance.detect import auc, load_detector, save_detector, score_images, train_detector
from ganforge.train.trainer import Trainer
from ganforge.utils.images import save_png


@pytest.fixture(scope="module")
def sets(shared_data, tmp_path_factory):
    cfg = make_config({"recipe": "dcgan", "data": "fashion-mnist", "data_dir": str(shared_data / "fashion-mnist"),
                       "g_width": 16, "d_width": 16, "z_dim": 32, "steps": 30, "batch_size": 32, "sample_every": 0,
                       "device": "cpu", "collapse_warning": False, "out": str(tmp_path_factory.mktemp("det") / "gan")})
    data = load_dataset(cfg, "test")
    trainer = Trainer(cfg, dataset=data, callbacks=[])
    trainer.fit()
    from ganforge.sampling import generate

    fake = data.from_model(generate(trainer.recipe, trainer.ema.model, 500, seed=0)[0]).numpy()
    return data.x[:500].numpy(), fake, trainer.run_dir


def held_out(det, real, fake):
    scores = np.r_[score_images(det, real), score_images(det, fake)]
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    return float(((scores > 0.5) == labels).mean()), auc(labels, scores)


def test_detector_separates_real_from_generated(sets, tmp_path):
    real, fake, _ = sets
    det, record = train_detector(real[:300], fake[:300], steps=120, batch_size=32)
    accuracy, area = held_out(det, real[300:], fake[300:])
    assert accuracy >= 0.9 and area >= 0.95, (accuracy, area)
    assert record["validation"]["auc"] >= 0.95
    untrained, _ = train_detector(real[:300], fake[:300], steps=0)    # control: the same check fails untrained
    assert held_out(untrained, real[300:], fake[300:])[0] < 0.75
    save_detector(det, tmp_path / "det", record)
    loaded, meta = load_detector(tmp_path / "det")
    assert meta["spec"] == {"size": 28, "channels": 1, "width": 16}
    assert np.allclose(score_images(loaded, fake[300:310]), score_images(det, fake[300:310]), atol=1e-6)
    colour = np.repeat(fake[300:310], 3, 1)                             # RGB and other sizes are converted
    big = torch.nn.functional.interpolate(torch.from_numpy(colour).float(), size=56).byte().numpy()
    assert score_images(loaded, big).shape == (10,)


def test_detect_commands(sets, tmp_path, capsys):
    real, fake, run = sets
    (tmp_path / "real").mkdir()
    for i, image in enumerate(real[:40]):
        save_png(torch.from_numpy(image), tmp_path / "real" / f"{i:03d}.png")
    assert main(["detect", "train", "--real", str(tmp_path / "real"), "--fake", str(run), "--steps", "60",
                 "--out", str(tmp_path / "det")]) == 0
    assert (tmp_path / "det" / "detector.safetensors").is_file()
    assert main(["detect", "score", str(tmp_path / "det"), str(tmp_path / "real"), "--out",
                 str(tmp_path / "s.json")]) == 0
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == 40 and all(0 <= r["p_generated"] <= 1 for r in rows)
    capsys.readouterr()
    assert main(["detect", "score", str(tmp_path / "real"), str(tmp_path / "real")]) == 2
    assert "not a detector folder" in capsys.readouterr().err
