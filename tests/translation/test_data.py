"""paired-folder / unpaired-folder / domains: the layouts users have, and one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from tests.translation.conftest import pattern, save


def _load(root, data="paired-folder", split="train", **kw):
    options = kw.pop("options", {})
    return load_dataset(make_config({"data": data, "data_dir": str(root), "options": options, **kw}), split)


def test_two_folders_pair_by_name_with_per_side_colour(paired_tree):
    train = _load(paired_tree, options={"source": "line"}, target="color", image_size=8)
    test = _load(paired_tree, split="test", options={"source": "line", "target": "color"}, image_size=8)
    assert train.x.shape[1:] == (1, 8, 8) and train.fields["target"].shape[1:] == (3, 8, 8)
    assert len(train) + len(test) == 12 and len(test) >= 1
    assert train.field_kind("target") == "image" and train.meta["source"] == "line"


def test_pairs_keep_their_order(tmp_path):
    for i in range(6):
        value = np.full((8, 8, 3), 20 * i, np.uint8)
        save(tmp_path / "A" / f"{i}.png", value)
        save(tmp_path / "B" / f"{i}.jpg" if i % 2 else tmp_path / "B" / f"{i}.png", value)  # extensions may differ
    d = _load(tmp_path, options={"test_fraction": 0.2})
    assert torch.allclose(d.x.float(), d.fields["target"].float(), atol=3)


def test_side_by_side_ab_images_and_direction(tmp_path):
    for split in ("train", "test"):
        for i in range(3):
            ab = np.concatenate([np.full((16, 16, 3), 10, np.uint8), np.full((16, 16, 3), 200, np.uint8)], 1)
            save(tmp_path / split / f"{i}.jpg", ab)
    d = _load(tmp_path)
    assert d.x.shape[1:] == (3, 16, 16) and d.meta["layout"] == "ab"
    assert abs(d.x.float().mean() - 10) < 3 and abs(d.fields["target"].float().mean() - 200) < 3
    back = _load(tmp_path, split="test", options={"direction": "BtoA"})
    assert abs(back.x.float().mean() - 200) < 3


def test_mixed_sizes_are_resized_and_rgba_is_flattened_on_white(tmp_path):
    save(tmp_path / "A" / "big.png", pattern(1, 40))
    save(tmp_path / "A" / "wide.png", np.zeros((20, 30, 3), np.uint8))
    rgba = np.zeros((16, 16, 4), np.uint8)  # fully transparent black -> white
    save(tmp_path / "A" / "clear.png", rgba, "RGBA")
    for name in ("big", "wide", "clear"):
        save(tmp_path / "B" / f"{name}.png", np.zeros((16, 16), np.uint8))  # grey targets
    d = load_dataset(make_config({"data": "paired-folder", "data_dir": str(tmp_path), "image_size": 16,
                                  "options": {"test_fraction": 0.34}}), "train")
    both = torch.cat([d.x, load_dataset(make_config({"data": "paired-folder", "data_dir": str(tmp_path), "image_size": 16,
                                                     "options": {"test_fraction": 0.34}}), "test").x])
    assert both.shape[1:] == (3, 16, 16) and d.fields["target"].shape[1] == 1
    assert (both == 255).all(dim=(1, 2, 3)).any()  # the transparent image became white, not black


@pytest.mark.parametrize("case, message", [
    ("missing_target", r"1 image\(s\) in .*A have no counterpart of the same name in .*B \(e\.g\. 2\)"),
    ("no_folder", r"target folder .*nope does not exist \(folders under .*: A, B\)"),
    ("odd_ab", r"needs an even width"),
    ("corrupt", r"cannot read image .*1\.png"),
    ("metadata_missing", r"metadata lists 1 file\(s\) missing from .*ghost"),
    ("bad_split", r"split' holds 'dev'"),
    ("bad_layout", r"option 'layout' is 'zigzag'"),
    ("bad_exclude", r"option 'exclude' is 'nogroup'"),
])
def test_one_line_errors(tmp_path, case, message):
    for i in range(3):
        save(tmp_path / "A" / f"{i}.png", pattern(i, 8))
        save(tmp_path / "B" / f"{i}.png", pattern(i, 8))
    options = {}
    if case == "missing_target":
        (tmp_path / "B" / "2.png").unlink()
    elif case == "no_folder":
        options["target"] = "nope"
    elif case == "odd_ab":
        save(tmp_path / "ab" / "x.png", np.zeros((8, 15, 3), np.uint8))
        (tmp_path / "ab" / "x.png").rename(tmp_path / "x.png")
        for d in ("A", "B", "ab"):
            __import__("shutil").rmtree(tmp_path / d)
    elif case == "corrupt":
        (tmp_path / "A" / "1.png").write_bytes(b"not a png")
    elif case in ("metadata_missing", "bad_split", "bad_exclude"):
        rows = ["file,split,group", "0.png,train,x", "1.png,train,x",
                "2.png,dev,x" if case == "bad_split" else "2.png,test,y"]
        if case == "metadata_missing":
            rows.append("ghost.png,train,x")
        (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
        if case == "bad_exclude":
            options["exclude"] = "nogroup"
    elif case == "bad_layout":
        options["layout"] = "zigzag"
    with pytest.raises(GanforgeError, match=message) as info:
        _load(tmp_path, options=options)
    assert "\n" not in str(info.value)


def test_metadata_split_exclude_and_labels(tmp_path):
    rows = ["file,split,group"]
    for i in range(8):
        save(tmp_path / "A" / f"{i}.png", pattern(i, 8))
        save(tmp_path / "B" / f"{i}.png", pattern(i, 8))
        rows.append(f"{i}.png,{'test' if i < 2 else 'train'},{'flags' if i == 7 else 'g' + str(i % 2)}")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    d = _load(tmp_path, options={"exclude": "group=flags", "label_column": "group"})
    assert len(d) == 5 and d.class_names == ["g0", "g1"] and d.y.tolist() == [0, 1, 0, 1, 0]
    assert len(_load(tmp_path, split="test", options={"exclude": "group=flags"})) == 2


def test_cyclegan_layout_and_known_counterparts(tmp_path):
    for split in ("train", "test"):
        for d in ("A", "B"):
            for i in range(4 if d == "A" else 5):
                save(tmp_path / f"{split}{d}" / f"{i}.png", pattern(i + (50 if d == "B" else 0), 8))
    train = _load(tmp_path, data="unpaired-folder")
    assert set(train.sources) == {"A", "B"} and len(train.sources["B"]) == 5 and not train.fields
    test = _load(tmp_path, data="unpaired-folder", split="test")
    assert len(test) == 4 and torch.equal(test.fields["target"], test.sources["B"].x[:4])
    with pytest.raises(GanforgeError, match="has trainA/ but no testB/"):
        __import__("shutil").rmtree(tmp_path / "testB")
        _load(tmp_path, data="unpaired-folder", split="test")


def test_domains_folder_per_domain_and_csv(tmp_path):
    for dom in ("dark", "light", "mid"):
        for i in range(5):
            save(tmp_path / "f" / dom / f"{dom}{i}.png", pattern(i, 8))
    d = _load(tmp_path / "f", data="domains")
    assert d.class_names == ["dark", "light", "mid"] and d.num_classes == 3
    rows = ["file,tone,base,split"]
    for g in range(4):
        for tone in ("", "1", "2"):
            if g == 3 and tone == "2":
                continue  # subject 3 is incomplete
            name = f"{g}-{tone or 'x'}.png"
            save(tmp_path / "c" / "img" / name, pattern(g, 8))
            rows.append(f"{name},{tone},{g},{'test' if g == 0 else 'train'}")
    (tmp_path / "c" / "metadata.csv").write_text("\n".join(rows) + "\n")
    opts = {"images": "img", "domain_column": "tone", "domains": "|1|2", "missing_domain": "default",
            "group_column": "base", "complete": True}
    d = _load(tmp_path / "c", data="domains", options=opts)
    assert d.class_names == ["default", "1", "2"] and len(d) == 6 and d.field_kind("group") == "label"
    with pytest.raises(GanforgeError, match="option 'domain_column' is 'hue'"):
        _load(tmp_path / "c", data="domains", options={**opts, "domain_column": "hue"})


def test_emoji_openmoji_pairs(emoji):
    d = _load(emoji / "openmoji", split="test", options={"source": "line", "exclude": "group=flags"}, target="color")
    assert d.x.shape[1:] == (3, 64, 64) and len(d) == 451 and d.meta["split"] == "metadata split"
