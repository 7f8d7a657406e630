"""Inpainting (DeepFill v2): masks, gated convolutions, contextual attention, the recipe end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data.masks import box_mask, brush_stroke_mask, random_masks, read_masks
from ganforge.errors import GanforgeError
from ganforge.nets.gated import GatedConv, InpaintGenerator, contextual_attention
from ganforge.train.trainer import Trainer
from tests.translation.conftest import pattern, save
from tests.translation.test_recipes import TINY, _tensors


def test_masks_are_seeded_and_shaped_like_the_papers():
    a, b = random_masks(4, 64, "both", 3), random_masks(4, 64, "both", 3)
    assert torch.equal(a, b) and a.shape == (4, 1, 64, 64) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, random_masks(4, 64, "both", 4))
    box = box_mask(64, np.random.default_rng(0))
    assert box.sum() == 32 * 32  # half the side
    strokes = [brush_stroke_mask(64, np.random.default_rng(s)).mean() for s in range(20)]
    assert 0.02 < np.mean(strokes) < 0.6 and min(strokes) > 0  # strokes always cover something, never all
    with pytest.raises(GanforgeError, match="unknown mask kind"):
        random_masks(1, 16, "circle", 0)


def test_read_masks_resizes_and_names_the_missing_file(tmp_path):
    m = np.zeros((32, 32), np.uint8)
    m[:16] = 255
    save(tmp_path / "a.png", m)
    masks = read_masks(tmp_path, ["a"], 16)
    assert masks.shape == (1, 1, 16, 16) and masks[0, 0, :8].all() and not masks[0, 0, 8:].any()
    with pytest.raises(GanforgeError, match="no mask for input 'b'"):
        read_masks(tmp_path, ["b"], 16)


def test_gated_conv_gates_its_features():
    conv = GatedConv(2, 3)
    torch.nn.init.zeros_(conv.conv.weight)
    torch.nn.init.constant_(conv.conv.bias, 0.0)
    conv.conv.bias.data[:3] = 1.0  # features ELU(1) = 1, gates sigmoid(0) = 0.5
    assert torch.allclose(conv(torch.randn(1, 2, 4, 4)), torch.full((1, 3, 4, 4), 0.5))


def test_contextual_attention_copies_from_the_background_only():
    f = torch.zeros(1, 2, 6, 6)
    f[0, 0, :, :3] = 1.0   # left half: feature (1, 0)
    f[0, 1, :, 3:] = 1.0   # right half: feature (0, 1)
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :, 3:] = 1   # the right half is the hole: it may only borrow left-half patches
    out = contextual_attention(f, mask, fuse=False)
    assert out.shape == f.shape
    hole = out[0, :, 1:5, 4]
    # borrowed from left-half patches (some include the zero padding, hence < 1), nothing from the hole
    assert (hole[0] > 0.4).all() and (hole[1].abs() < 1e-3).all()


def test_generator_keeps_known_pixels_in_sampling(tmp_path):
    g = InpaintGenerator(3, 4, 16)
    coarse, refined = g(torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16))
    assert coarse.shape == refined.shape == (2, 3, 16, 16)


def test_inpaint_trains_resumes_samples_and_evaluates(tmp_path, capsys):
    tree = tmp_path / "imgs"
    for i in range(12):
        save(tree / f"{i:02d}.png", pattern(i, 16))
    base = dict(recipe="inpaint", data="image-folder", data_dir=str(tree), deterministic=True,
                **{**TINY, "steps": 4, "sample_every": 0})
    Trainer(make_config({**base, "out": str(tmp_path / "a")}), callbacks=[]).fit()
    Trainer(make_config({**base, "steps": 2, "out": str(tmp_path / "b")}), callbacks=[]).fit()
    Trainer(make_config({**base, "out": str(tmp_path / "b")}), callbacks=[], resume=True).fit()
    a, _ = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) and "recipe.rank0.mask_rng" in a

    gen = ganforge.load(tmp_path / "a")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    masks = torch.zeros(2, 1, 16, 16)
    masks[:, :, 4:12, 4:12] = 1
    out = gen.translate(x, masks=masks)
    assert torch.equal(out * (1 - masks), x * (1 - masks))  # known pixels are kept
    with pytest.raises(GanforgeError, match="one \\(1, H, W\\) mask per input"):
        gen.translate(x, masks=masks[:1])

    holes = tmp_path / "holes"
    for i in range(3):
        save(holes / f"{i:02d}.png", (np.arange(256).reshape(16, 16) % 2 * 255).astype(np.uint8))
    inputs = tmp_path / "in"
    for i in range(3):
        save(inputs / f"{i:02d}.png", pattern(i, 16))
    assert main(["sample", str(tmp_path / "a"), "--input", str(inputs), "--mask", str(holes), "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").iterdir())) == 3
    assert main(["sample", str(tmp_path / "a"), "--mask", str(holes), "--out", str(tmp_path / "p.png")]) == 2
    capsys.readouterr()
    for baseline in ("fill", None):
        extra = ["--baseline", baseline] if baseline else []
        assert main(["eval", str(tmp_path / "a"), "--metrics", "l1,psnr", "--json"] + extra) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["l1"] > 0


def test_inpaint_rejects_sizes_it_cannot_take(tmp_path):
    with pytest.raises(GanforgeError, match="divisible by 4"):
        Trainer(make_config({"recipe": "inpaint", "data": "digits", **{**TINY, "image_size": 18}}), run_dir=None)
