"""Label maps -> images: the label-maps dataset (files and palette-derived maps), SPADE and Pix2PixHD."""
from __future__ import annotations

import json

import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.data.label_maps import derive_maps, parse_palette
from ganforge.errors import GanforgeError
from ganforge.nets.spade import SPADE
from ganforge.train.trainer import Trainer
from tests.translation.conftest import pattern, save
from tests.translation.test_recipes import TINY, _tensors


def _cfg(recipe, root, **kw):
    return make_config({"recipe": recipe, "data": "label-maps", "data_dir": str(root), **{**TINY, **kw}})


def test_label_map_files_are_read_exactly_and_checked(map_tree):
    d = load_dataset(_cfg("spade", map_tree))
    maps = d.fields["label_map"]
    assert maps.dtype == torch.int64 and maps.shape[1:] == (16, 16) and set(maps.unique().tolist()) == {0, 1, 2}
    assert d.meta["label_classes"] == 3 and d.field_kind("label_map") == "label_map"
    with pytest.raises(GanforgeError, match="holds class id 2 but classes is 2"):
        load_dataset(_cfg("spade", map_tree, options={"classes": 2}))
    save(map_tree / "labels" / "3.png", pattern(3, 16))  # an RGB "label map"
    with pytest.raises(GanforgeError, match="single-channel"):
        load_dataset(_cfg("spade", map_tree))
    (map_tree / "labels" / "3.png").unlink()
    with pytest.raises(GanforgeError, match="no label map of the same name"):
        load_dataset(_cfg("spade", map_tree))


def test_palette_maps_take_the_nearest_colour():
    pal = parse_palette("0,0,0;255,255,255;255,0,0")
    img = torch.tensor([[[10, 250, 200]], [[10, 250, 30]], [[10, 250, 30]]], dtype=torch.uint8)[None]
    assert derive_maps(img, pal).tolist() == [[[0, 1, 2]]]
    with pytest.raises(GanforgeError, match="palette"):
        parse_palette("1,2")


def test_spade_modulates_per_pixel_from_the_map():
    spade = SPADE(4, 3)
    x = torch.randn(2, 4, 8, 8)
    seg = torch.zeros(2, 3, 8, 8)
    seg[:, 0, :, :4], seg[:, 1, :, 4:] = 1, 1
    out = spade(x, seg)
    normed = torch.nn.functional.batch_norm(x, None, None, training=True)
    gamma_beta_left = out[..., :4] - normed[..., :4]
    assert not torch.allclose(gamma_beta_left.mean((0, 2, 3)), (out[..., 4:] - normed[..., 4:]).mean((0, 2, 3)))


@pytest.mark.parametrize("recipe", ["spade", "pix2pixhd"])
def test_semantic_recipes_train_resume_sample_and_evaluate(recipe, map_tree, tmp_path, capsys):
    base = dict(deterministic=True, steps=4, sample_every=0)
    Trainer(_cfg(recipe, map_tree, out=str(tmp_path / "a"), **base), callbacks=[]).fit()
    Trainer(_cfg(recipe, map_tree, out=str(tmp_path / "b"), **{**base, "steps": 2}), callbacks=[]).fit()
    Trainer(_cfg(recipe, map_tree, out=str(tmp_path / "b"), **base), callbacks=[], resume=True).fit()
    a, _ = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    gen = ganforge.load(tmp_path / "a")
    maps = torch.randint(3, (2, 16, 16))
    assert gen.translate(maps).shape == (2, 3, 16, 16)
    with pytest.raises(GanforgeError, match="class id 5"):
        gen.translate(torch.full((1, 16, 16), 5))
    with pytest.raises(GanforgeError, match="label maps of class ids"):
        gen.translate(torch.zeros(1, 4, 16, 16))
    assert main(["sample", str(tmp_path / "a"), "--input", str(map_tree / "labels"), "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").iterdir())) == 10
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "a"), "--metrics", "l1,psnr", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["l1"] > 0


def test_semantic_recipes_need_label_maps():
    with pytest.raises(GanforgeError, match="--data label-maps"):
        Trainer(make_config({"recipe": "spade", "data": "digits", **{**TINY, "image_size": 16}}), run_dir=None)
