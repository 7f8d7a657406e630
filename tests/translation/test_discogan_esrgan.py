"""DiscoGAN and ESRGAN: their networks, their losses and schedules, exact resume, sampling and errors."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.nets.discogan import DiscoDiscriminator, DiscoGenerator
from ganforge.nets.rrdb import RRDB, RRDBNet
from ganforge.recipes.esrgan import interpolate_networks
from ganforge.train.trainer import Trainer
from tests.translation.test_recipes import TINY, _flags, _tensors


def test_discogan_networks_match_the_paper_at_64():
    g, d = DiscoGenerator(3, 3, 64, 64), DiscoDiscriminator(3, 64, 64)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert g(x).shape == x.shape and g(x).abs().max() <= 1
    bottleneck = g.model[:4](x)
    assert bottleneck.shape == (2, 512, 4, 4)  # no skips: the whole image passes through 4x4x512
    logits, features = d(x)
    assert logits.shape == (2, 1, 1, 1) and [f.shape[1:] for f in features] == [(128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.model[0].modules())  # no norm on the first layer


def test_discogan_alternates_d_and_g_steps_with_its_curriculum_and_resumes(unpaired_tree, tmp_path):  # noqa: F811
    base = dict(recipe="discogan", data="unpaired-folder", data_dir=str(unpaired_tree), deterministic=True,
                options={"gan_curriculum": 3}, **{**TINY, "steps": 6, "sample_every": 0})
    Trainer(make_config({**base, "out": str(tmp_path / "a")})).fit()
    Trainer(make_config({**base, "steps": 4, "out": str(tmp_path / "b")}), callbacks=[]).fit()
    Trainer(make_config({**base, "out": str(tmp_path / "b")}), callbacks=[], resume=True).fit()
    a, _ = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    steps = {e["step"]: e for e in log if "step" in e}
    # logged steps count from 1: step s ran training step s - 1
    assert len(steps) == 6 and all(("d_loss" in e) == ((s - 1) % 3 == 0) != ("recon" in e) for s, e in steps.items())
    recipe = Trainer(make_config({**base, "out": str(tmp_path / "c")}), run_dir=None).recipe
    assert recipe.rate(2) == 0.01 and recipe.rate(3) == 0.5
    gen = ganforge.load(tmp_path / "a")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert gen.translate(x).shape == gen.translate(x, domain="A").shape == (2, 3, 16, 16)


def test_discogan_needs_a_size_divisible_by_16(unpaired_tree):  # noqa: F811
    with pytest.raises(GanforgeError, match="multiple of 16"):
        Trainer(make_config({"recipe": "discogan", "data": "unpaired-folder", "data_dir": str(unpaired_tree),
                             **{**TINY, "image_size": 24}}), run_dir=None)


def test_rrdb_has_no_batch_norm_and_scales_its_residuals():
    net = RRDBNet(3, scale=4, width=8, blocks=2, growth=4)
    assert net(torch.zeros(1, 3, 8, 8)).shape == (1, 3, 32, 32)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    block = RRDB(8, 4)
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(1, 8, 5, 5)
    # zero convs: each dense block is the identity, so the RRDB returns x + 0.2 * x (residual scaling)
    assert torch.allclose(block(x), 1.2 * x)


def test_esrgan_network_interpolation():
    a, b = {"w": torch.zeros(3), "n": torch.tensor(1)}, {"w": torch.ones(3), "n": torch.tensor(2)}
    mid = interpolate_networks(a, b, 0.8)
    assert torch.allclose(mid["w"], torch.full((3,), 0.8)) and mid["n"] == 2
    with pytest.raises(GanforgeError, match="differ"):
        interpolate_networks(a, {"w": torch.ones(3)}, 0.5)


def test_esrgan_pretrains_on_l1_then_relativistic_gan_with_a_perceptual_network(tmp_path, capsys):
    features = torch.jit.script(nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.AdaptiveAvgPool2d(2)))
    torch.jit.save(features, str(tmp_path / "features.pt"))
    run = tmp_path / "run"
    options = {"blocks": 1, "growth": 4, "pretrain_steps": 2, "perceptual_net": str(tmp_path / "features.pt")}
    assert main(["train", "--recipe", "esrgan", "--data", "digits", "--out", str(run), "--options", json.dumps(options)]
                + _flags(**{**TINY, "image_size": 16})) == 0
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    by_step = {e["step"]: e for e in log if "step" in e}
    assert "L1/l1" in by_step[1] and "d_loss" not in by_step[1]  # logged steps count from 1
    assert {"d_loss", "g_loss", "perceptual"} <= set(by_step[4])
    gen = ganforge.load(run)
    assert gen.translate(torch.rand(2, 1, 4, 4) * 2 - 1).shape == (2, 1, 16, 16)
    bad = {**options, "perceptual_net": str(tmp_path / "missing.pt")}
    assert main(["train", "--recipe", "esrgan", "--data", "digits", "--out", str(tmp_path / "r2"),
                 "--options", json.dumps(bad)] + _flags(**{**TINY, "image_size": 16})) == 2
    assert "perceptual_net" in capsys.readouterr().err
