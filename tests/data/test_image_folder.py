"""image-folder: class sub-folders, splits, resize/crop, colour detection, clear errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError


def save(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, format=fmt)
    return path


def solid(h, w, value, channels=3):
    shape = (h, w, channels) if channels == 3 else (h, w)
    return np.full(shape, value, np.uint8)


def load(root, split="train", image_size=None, **options):
    return load_dataset(Config(data="image-folder", data_dir=str(root), image_size=image_size, options=options),
                        split)


def test_class_subfolders_labels_and_seeded_split(tmp_path):
    colours = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}
    for name, rgb in colours.items():
        for i in range(10):
            ext = "jpg" if i % 2 else "png"
            save(tmp_path / name / ("nested" if i == 3 else "") / f"{i}.{ext}", solid(12, 12, 0) + np.uint8(rgb))
    (tmp_path / "red" / "notes.txt").write_text("ignored")
    save(tmp_path / ".hidden" / "x.png", solid(8, 8, 7))  # hidden folders are not a class
    train, test = load(tmp_path, image_size=8), load(tmp_path, "test", image_size=8)
    assert train.class_names == ["blue", "green", "red"] and train.num_classes == 3
    assert len(train) + len(test) == 30 and len(test) == 3
    assert train.x.shape[1:] == (3, 8, 8) and train.x.dtype == torch.uint8
    # Each image's colour matches its label (labels follow the folders; JPEG is lossy: tolerance).
    dominant = train.x.float().mean(dim=(2, 3)).argmax(dim=1)  # 0 red, 1 green, 2 blue channel
    expected = torch.tensor([2, 1, 0])[train.y]
    assert torch.equal(dominant, expected)
    # The split is deterministic.
    assert torch.equal(load(tmp_path, "test", image_size=8).x, test.x)
    assert train.meta["split"].startswith("seeded split")


def test_train_test_folders_define_the_split(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for cls in ("cat", "dog"):
            for i in range(n):
                save(tmp_path / split / cls / f"{i}.png", solid(16, 16, 10 if cls == "cat" else 200, channels=1))
    train, test = load(tmp_path, image_size=16), load(tmp_path, "test", image_size=16)
    assert len(train) == 8 and len(test) == 4 and test.class_names == ["cat", "dog"]
    assert train.x.shape[1] == 1  # all grayscale -> one channel
    assert torch.equal(test.y, torch.tensor([0, 0, 1, 1]))
    assert test.x[test.y == 1].min() == 200


def test_unlabelled_center_crop_and_resize(tmp_path):
    # 20x40 image: left/right quarters black, middle 20x20 white -> the center crop is all white.
    image = solid(20, 40, 0, channels=1)
    image[:, 10:30] = 255
    save(tmp_path / "a.png", image)
    save(tmp_path / "b.png", image)
    ds = load(tmp_path, image_size=10)
    assert ds.y is None and ds.num_classes == 0 and ds.x.shape == (1, 1, 10, 10)
    assert ds.x.min() == 255
    assert load(tmp_path).x.shape[-1] == 64  # the documented default size


def test_mixed_colour_modes_become_rgb_unless_asked(tmp_path):
    save(tmp_path / "gray.png", solid(8, 8, 100, channels=1))
    save(tmp_path / "rgba.png", np.full((8, 8, 4), 50, np.uint8))
    Image.fromarray(solid(8, 8, 30)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "deep.png")  # 16-bit grayscale
    both = torch.cat([load(tmp_path, "train", 8).x, load(tmp_path, "test", 8).x])
    assert both.shape == (4, 3, 8, 8)
    assert set(both[:, 0, 0, 0].tolist()) == {100, 50, 30, 255}  # 16-bit white stays white
    gray = torch.cat([load(tmp_path, "train", 8, color="grayscale").x, load(tmp_path, "test", 8, color="grayscale").x])
    assert gray.shape == (4, 1, 8, 8)


def test_empty_folder_and_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(GanforgeError, match="no PNG/JPG/JPEG images.*empty"):
        load(tmp_path / "empty")
    with pytest.raises(GanforgeError, match="does not exist"):
        load(tmp_path / "missing")


@pytest.mark.parametrize("corruption", ["garbage", "truncated"])
def test_corrupt_image_names_the_file(tmp_path, corruption):
    save(tmp_path / "ok.png", solid(32, 32, 9))
    bad = save(tmp_path / "bad.png", np.random.default_rng(0).integers(0, 255, (32, 32, 3)))
    data = bad.read_bytes()
    bad.write_bytes(b"not an image at all" if corruption == "garbage" else data[: len(data) // 2])
    with pytest.raises(GanforgeError, match="bad.png"):
        torch.cat([load(tmp_path, "train", 16).x, load(tmp_path, "test", 16).x])


def test_loose_images_beside_class_folders_are_refused(tmp_path):
    save(tmp_path / "cls" / "a.png", solid(8, 8, 1))
    save(tmp_path / "loose.png", solid(8, 8, 1))
    with pytest.raises(GanforgeError, match="loose.png"):
        load(tmp_path)


def test_bad_options(tmp_path):
    save(tmp_path / "a.png", solid(8, 8, 1))
    with pytest.raises(GanforgeError, match="'color'"):
        load(tmp_path, color="sepia")
    with pytest.raises(GanforgeError, match="'test_fraction'"):
        load(tmp_path, test_fraction=1.5)
