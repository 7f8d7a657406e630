"""Keyed STDM watermark: round trip, JPEG q75, PSNR, wrong keys, and the sample / serve / verify commands."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.provenance.watermark import Watermark, payload_bits, psnr, threshold


@pytest.fixture(scope="module")
def fashion(shared_data):
    cfg = make_config({"data": "fashion-mnist", "data_dir": str(shared_data / "fashion-mnist")})
    return load_dataset(cfg, "test").x[:40].numpy()


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    out = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)).save(buf, "JPEG", quality=quality)
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
        out.append(back[None] if back.ndim == 2 else back.transpose(2, 0, 1))
    return np.stack(out)


def test_round_trip_psnr_and_jpeg_on_fashion_mnist(fashion):
    mark = Watermark("s3cret-key", 28, 28)
    marked = mark.embed(fashion)
    assert marked.dtype == np.uint8 and marked.shape == fashion.shape
    assert psnr(marked, fashion) >= 40.0
    clean = mark.verify(marked)
    assert clean["bit_accuracy"].min() == 1.0 and clean["detected"].all()
    assert not mark.verify(fashion)["detected"].any()                  # unmarked images: no mark
    compressed = mark.verify(jpeg(marked, 75))
    assert compressed["bit_accuracy"].mean() >= 0.9 and compressed["detected"].mean() >= 0.8
    other = Watermark("another-key", 28, 28).verify(marked)
    assert not other["detected"].any() and 0.3 < other["bit_accuracy"].mean() < 0.7   # coin flips


def test_colour_images_keep_their_mark():
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(30, 220, (6, 3, 8, 8)), np.ones((1, 1, 4, 4))).astype(np.uint8)  # 32x32 blocks
    mark = Watermark("k", 32, 32)
    marked = mark.embed(smooth)
    assert mark.verify(marked)["detected"].all() and psnr(marked, smooth) >= 40.0


def test_payload_sizes_and_false_positive_threshold():
    assert (payload_bits(8), payload_bits(28), payload_bits(32), payload_bits(64)) == (16, 32, 32, 64)
    assert threshold(32) == 28 and threshold(64) == 50
    with pytest.raises(GanforgeError, match="too small"):
        payload_bits(4)
    with pytest.raises(GanforgeError, match="shape"):
        Watermark("k", 28, 28).verify(np.zeros((2, 1, 32, 32), np.uint8))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from ganforge.train.trainer import Trainer

    out = tmp_path_factory.mktemp("wm") / "run"
    cfg = make_config({"data": "digits", "image_size": 16, "g_width": 8, "d_width": 8, "z_dim": 8, "steps": 2,
                       "batch_size": 16, "sample_every": 0, "device": "cpu", "out": str(out)})
    Trainer(cfg, callbacks=[]).fit()
    return out


def test_sample_verify_commands(digits_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WM_KEY", "key-from-the-environment")
    assert main(["sample", str(digits_run), "-n", "6", "--out", str(tmp_path / "marked"), "--watermark", "env:WM_KEY"]) == 0
    assert main(["sample", str(digits_run), "-n", "6", "--out", str(tmp_path / "plain")]) == 0
    capsys.readouterr()
    assert main(["watermark", "verify", str(tmp_path / "marked"), "--key", "env:WM_KEY",
                 "--out", str(tmp_path / "r.json")]) == 0
    assert "6 of 6 images carry the mark" in capsys.readouterr().out
    for folder, key in (("plain", "env:WM_KEY"), ("marked", "wrong-key")):
        assert main(["watermark", "verify", str(tmp_path / folder), "--key", key]) == 0
        assert "0 of 6 images carry the mark" in capsys.readouterr().out
    monkeypatch.delenv("WM_KEY")
    assert main(["watermark", "verify", str(tmp_path / "marked"), "--key", "env:WM_KEY"]) == 2


def test_served_images_carry_the_mark(digits_run):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    import ganforge
    from ganforge.deploy.api import Settings
    from ganforge.deploy.server import create_app

    app = create_app({"d": ganforge.load(digits_run)}, Settings(watermark="served-key"))
    with TestClient(app) as client:
        payload = client.post("/models/d/sample", json={"n": 4, "format": "json"}).json()
    images = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(s))))[None] for s in payload["images"]])
    assert Watermark("served-key", 16, 16).verify(images)["detected"].all()
    assert not Watermark("other-key", 16, 16).verify(images)["detected"].any()


def test_serve_flag_reaches_the_settings(monkeypatch):
    from ganforge.cli import build_parser
    from ganforge.commands.serve import settings_from

    monkeypatch.setenv("SERVE_KEY", "from-env")
    args = build_parser().parse_args(["serve", "runs/x", "--watermark", "env:SERVE_KEY"])
    assert settings_from(args).watermark == "from-env"
    assert settings_from(build_parser().parse_args(["serve", "runs/x"])).watermark is None
