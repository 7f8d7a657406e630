"""Packed datasets (``ganforge data pack``) streamed from disk: the same batches, training and resume as the
in-memory path, DDP shards, worker processes, a memory cap smaller than the set, and clear errors."""
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset, make_sampler
from ganforge.data.packed import pack
from ganforge.errors import GanforgeError
from ganforge.train.callbacks import Callback
from ganforge.train.trainer import Trainer

N_IMAGES = 400


class LossLog(Callback):
    def __init__(self):
        self.curve = []

    def on_log(self, trainer, logs):
        self.curve.append(logs)


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """Real data: 400 of sklearn's 8x8 digits as PNGs in class folders (like any user's image folder)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits-png")
    for i in range(N_IMAGES):
        folder = root / str(digits.target[i])
        folder.mkdir(exist_ok=True)
        Image.fromarray((digits.images[i] * 16).clip(0, 255).astype(np.uint8)).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def packed_zip(digits_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("packs") / "digits.zip"
    pack(digits_folder, out, size=8)
    return out


def config(data, data_dir, **more):
    base = dict(data=data, data_dir=str(data_dir), image_size=8, recipe="dcgan", architecture="mlp", z_dim=8,
                g_width=32, d_width=32, batch_size=32, ema_decay=0.0, sample_every=0, log_every=5,
                channels_last=False, device="cpu", collapse_warning=False)
    return make_config({**base, **more})


def test_pack_holds_the_pixels_labels_and_split_of_the_folder(digits_folder, packed_zip, tmp_path):
    for split in ("train", "test"):
        memory = load_dataset(config("image-folder", digits_folder), split)
        packed = load_dataset(config("packed", packed_zip), split)
        assert packed.class_names == memory.class_names and torch.equal(packed.y, memory.y)
        assert packed.x.shape == memory.x.shape and torch.equal(packed.x[:], memory.x)
    folder = tmp_path / "digits-pack"  # the sharded-folder form holds the same
    index = pack(digits_folder, folder, size=8)
    assert (folder / "dataset.json").is_file() and (folder / "00000" / "img00000399.png").is_file()
    assert index["content_sha256"] == json.loads(zipfile.ZipFile(packed_zip).read("dataset.json"))["content_sha256"]
    assert torch.equal(load_dataset(config("packed", folder)).x[:], load_dataset(config("packed", packed_zip)).x[:])


@pytest.mark.parametrize("rank,world_size,workers", [(0, 1, 0), (1, 2, 0), (0, 2, 2)])
def test_streaming_draws_the_in_memory_batches(digits_folder, packed_zip, rank, world_size, workers):
    memory = make_sampler(load_dataset(config("image-folder", digits_folder)), 32, 5, rank=rank, world_size=world_size)
    packed = load_dataset(config("packed", packed_zip, options={"workers": workers}))
    streaming = make_sampler(packed, 32, 5, rank=rank, world_size=world_size)
    assert streaming.workers == workers
    for _ in range(2 * streaming.batches_per_epoch + 3):  # across epoch boundaries
        a, b = memory.next(), streaming.next()
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    memory.drawn = streaming.drawn = 4  # a new position drops the prefetched batches
    assert torch.equal(memory.next().x, streaming.next().x)


def test_same_training_as_in_memory_and_exact_resume_under_a_memory_cap(digits_folder, packed_zip, tmp_path):
    cap_mb = 0.01  # 10 KiB: the train set (360 x 64 bytes = 22.5 KiB) does not fit, five batches do
    options = {"workers": 0, "memory_cap_mb": cap_mb}
    packed = load_dataset(config("packed", packed_zip, options=options))
    assert packed.x.shape.numel() > cap_mb * 2**20

    def run(data, data_dir, out, steps, resume=False, **more):
        cfg = config(data, data_dir, steps=steps, out=str(out), checkpoint_every=6, log_every=2, **more)
        trainer = Trainer(cfg, callbacks=[LossLog()], resume=resume)
        trainer.fit()
        return trainer

    straight = run("packed", packed_zip, tmp_path / "straight", 12, options=options)
    assert straight.sampler.max_buffered_bytes <= cap_mb * 2**20
    memory = run("image-folder", digits_folder, tmp_path / "memory", 12)
    run("packed", packed_zip, tmp_path / "halves", 6, options=options)
    resumed = run("packed", packed_zip, tmp_path / "halves", 12, resume=True, options=options)
    assert resumed.step == 12
    for other in (memory, resumed):
        for name, net in straight.recipe.nets.items():
            for key, value in net.state_dict().items():
                assert torch.equal(value, other.recipe.nets[name].state_dict()[key]), (name, key)
    assert len(straight.callbacks[0].curve) == 6 and straight.callbacks[0].curve == memory.callbacks[0].curve


def test_labels_and_split_from_a_csv(digits_folder, tmp_path):
    files = sorted(p.relative_to(digits_folder) for p in digits_folder.rglob("*.png"))[::10]
    rows = ["file,parity,split"] + [f"{f},{'even' if int(f.parts[0]) % 2 == 0 else 'odd'},{'test' if i % 4 == 0 else 'train'}"
                                    for i, f in enumerate(files)]
    (tmp_path / "meta.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "parity.zip"
    assert main(["data", "pack", str(digits_folder), str(out), "--size", "8", "--labels", str(tmp_path / "meta.csv"),
                 "--label-column", "parity"]) == 0
    train, test = load_dataset(config("packed", out)), load_dataset(config("packed", out), "test")
    assert train.class_names == ["even", "odd"] and len(train) == 30 and len(test) == 10
    assert train.meta["split"] == "the pack's split column"
    assert torch.equal(train.y, torch.tensor([int(f.parts[0]) % 2 for i, f in enumerate(files) if i % 4]))


def _rewrite_zip(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for item in a.infolist():
            if item.filename not in drop:
                b.writestr(item, (replace or {}).get(item.filename, a.read(item.filename)))
    return dst


def test_bad_packs_are_one_line_errors(packed_zip, digits_folder, tmp_path, capsys):
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(packed_zip.read_bytes()[:5000])
    no_index = _rewrite_zip(packed_zip, tmp_path / "no-index.zip", drop=("dataset.json",))
    index = json.loads(zipfile.ZipFile(packed_zip).read("dataset.json"))
    missing_image = _rewrite_zip(packed_zip, tmp_path / "missing.zip", drop=("00000/img00000007.png",))
    bad_count = _rewrite_zip(packed_zip, tmp_path / "count.zip",
                             replace={"dataset.json": json.dumps({**index, "count": 3}).encode()})
    cases = [(truncated, "corrupt or truncated"), (no_index, "no dataset.json"), (bad_count, "says count 3"),
             (tmp_path / "absent.zip", "does not exist")]
    for path, message in cases:
        with pytest.raises(GanforgeError, match=message):
            load_dataset(config("packed", path))
    with pytest.raises(GanforgeError, match="img00000007.png, which its index lists"):
        load_dataset(config("packed", missing_image)).x[:]
    with pytest.raises(GanforgeError, match="--image-size is 16"):
        load_dataset(config("packed", packed_zip, image_size=16))
    with pytest.raises(GanforgeError, match="over memory_cap_mb"):
        make_sampler(load_dataset(config("packed", packed_zip, options={"memory_cap_mb": 0.001})), 32, 0)
    assert main(["data", "pack", str(digits_folder), str(packed_zip), "--size", "8"]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "t.csv").write_text("file,group\nnope.png,a\n")
    with pytest.raises(GanforgeError, match="missing under"):
        pack(digits_folder, tmp_path / "x.zip", 8, labels=tmp_path / "t.csv", label_column="group")
    with pytest.raises(GanforgeError, match="no column 'kind'"):
        pack(digits_folder, tmp_path / "x.zip", 8, labels=tmp_path / "t.csv", label_column="kind")
    assert not (tmp_path / "x.zip").exists() and not list(tmp_path.glob(".x.zip*"))
