"""Our FID Inception reproduces the TorchScript reference; weights resolution; IS needs the head."""
from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate
from ganforge.metrics.extractors import inception
from ganforge.metrics.extractors.inception import InceptionExtractor, load_network, preprocess, resolve_weights


def test_our_architecture_reproduces_the_torchscript_features(inception_torchscript):
    reference = torch.jit.load(str(inception_torchscript), map_location="cpu").eval()
    ours = load_network(str(inception_torchscript))
    x = torch.rand(3, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        expected, got = reference(x), ours(x.contiguous(memory_format=torch.channels_last))
    assert got.shape == (3, 2048)
    assert float((got - expected).norm() / expected.norm()) < 1e-5


def test_preprocess_quantises_resizes_and_repeats_gray():
    x = torch.randint(0, 256, (2, 1, 8, 8), generator=torch.Generator().manual_seed(0)).float() / 127.5 - 1
    out = preprocess(x)
    assert out.shape == (2, 3, 299, 299) and out.min() >= -1 and out.max() <= 1
    assert torch.equal(out[:, 0], out[:, 2])
    nudged = x + 0.001 * torch.randn(x.shape).sign()  # below half a grey level: same 8-bit image, same network input
    assert torch.equal(preprocess(nudged), out)
    assert torch.equal(preprocess(x.abs() * 0 + 3.0), preprocess(torch.ones_like(x)))  # clamped to [-1, 1]
    with pytest.raises(GanforgeError, match="classifier"):
        preprocess(torch.zeros(2, 5))


def test_inception_metrics_and_the_missing_is_head(inception_torchscript):
    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 1, 16, 16, generator=g) * 2 - 1
    flat = torch.zeros(4, 1, 16, 16)
    scores = evaluate(real, real, ["fid", "pr"], extractor="inception", inception_weights=str(inception_torchscript))
    assert scores["fid"] == pytest.approx(0, abs=1e-3) and scores["precision"] == 1.0
    assert evaluate(flat, real, "fid", extractor="inception", inception_weights=str(inception_torchscript))["fid"] > 10
    with pytest.raises(GanforgeError, match="pt_inception-2015-12-05-6726825d.pth"):
        evaluate(real, real, ["is"], extractor="inception", inception_weights=str(inception_torchscript))


def test_weights_resolution_order(inception_torchscript, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")  # never reach for the network in tests
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    with pytest.raises(GanforgeError, match="GANFORGE_INCEPTION"):
        resolve_weights()
    monkeypatch.setenv("GANFORGE_INCEPTION", str(inception_torchscript))
    assert resolve_weights() == inception_torchscript
    with pytest.raises(GanforgeError, match="does not exist"):
        resolve_weights(tmp_path / "missing.pth")  # the explicit path wins over the environment
    monkeypatch.delenv("GANFORGE_INCEPTION")
    cache = tmp_path / "inception"
    cache.mkdir()
    monkeypatch.setattr(inception, "_cache_dir", lambda: cache)
    (cache / inception.TORCHSCRIPT_NAME).symlink_to(inception_torchscript)
    assert resolve_weights() == cache / inception.TORCHSCRIPT_NAME


def test_not_inception_weights_is_a_clear_error(tmp_path):
    bogus = tmp_path / "weights.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bogus)
    with pytest.raises(GanforgeError, match="FID Inception"):
        InceptionExtractor(inception_weights=str(bogus))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(GanforgeError, match="cannot read"):
        InceptionExtractor(inception_weights=str(tmp_path / "junk.pth"))


def test_torchscript_loads_only_when_official_or_trusted(inception_torchscript, tmp_path):
    assert inception.file_sha256(inception_torchscript) == inception.TORCHSCRIPT_SHA256
    # A TorchScript file that is not the official one: same parameters, different bytes (re-saved).
    other = tmp_path / "my-inception.pt"
    torch.jit.save(torch.jit.load(str(inception_torchscript), map_location="cpu"), str(other))
    assert inception.file_sha256(other) != inception.TORCHSCRIPT_SHA256
    with pytest.raises(GanforgeError, match="not the official") as err:
        InceptionExtractor(inception_weights=str(other))
    assert "--trust-extractor" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(GanforgeError, match="trust_extractor=True"):
        evaluate(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8), "fid", extractor="inception",
                 inception_weights=str(other))
    trusted = InceptionExtractor(inception_weights=str(other), trust_extractor=True, precision="fp32")
    official = InceptionExtractor(inception_weights=str(inception_torchscript), precision="fp32")
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(trusted.extract(x)[0], official.extract(x)[0])
    # cache keys name the weights by the sha256 of the file that was read
    assert inception.TORCHSCRIPT_SHA256[:16] in official.key and trusted.key != official.key


def test_trust_extractor_flag_on_the_cli(inception_torchscript, tmp_path, capsys):
    from ganforge.cli import main

    other = tmp_path / "my-inception.pt"
    torch.jit.save(torch.jit.load(str(inception_torchscript), map_location="cpu"), str(other))
    data = tmp_path / "a.npz"
    import numpy as np

    np.savez(data, x=np.random.default_rng(0).integers(0, 256, (3, 1, 8, 8), dtype=np.uint8))
    common = ["eval", "--real", str(data), "--fake", str(data), "--extractor", "inception",
              "--inception-weights", str(other), "--metrics", "fid", "--json"]
    assert main(common) == 2
    err = capsys.readouterr().err.strip()
    assert "not the official" in err and len(err.splitlines()) == 1
    assert main(common + ["--trust-extractor"]) == 0
    assert "fid" in capsys.readouterr().out
