"""CIFAR-10 python batches: tiny files in the official format, safe unpickling, clear errors."""
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError

PER_BATCH = 4


class Py2Pickler(pickle._Pickler):
    """Writes bytes and str as Python 2 `str` (BINSTRING), as the official (2009, Python 2) batches are."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def batch_bytes(images: np.ndarray, labels, protocol="py2") -> bytes:
    # The official layout: bytes keys, 'data' uint8 (N, 3072) channel-planar, 'labels' a list of ints.
    batch = {b"batch_label": b"training batch", b"labels": list(labels),
             b"data": images.reshape(len(images), -1), b"filenames": [b"x.png"] * len(images)}
    if protocol == "py2":
        buffer = io.BytesIO()
        Py2Pickler(buffer, protocol=2).dump(batch)
        return buffer.getvalue()
    return pickle.dumps(batch, protocol=protocol)


def make_cifar(folder, protocol="py2"):
    """Five train batches and a test batch of PER_BATCH random images; returns the expected tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(PER_BATCH, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=PER_BATCH).tolist()
        (folder / name).write_bytes(batch_bytes(images, labels, protocol))
        expected[name] = (images, labels)
    meta = {b"label_names": [n.encode() for n in "abcdefghij"], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2 if protocol == "py2" else protocol))
    return expected


def load(directory, split="train"):
    return load_dataset(Config(data="cifar10", data_dir=str(directory)), split)


@pytest.mark.parametrize("protocol", ["py2", 2, 5])  # the official files, and re-pickled copies
def test_loads_official_layout_channel_planar(tmp_path, protocol):
    expected = make_cifar(tmp_path / "cifar-10-batches-py", protocol)
    train, test = load(tmp_path), load(tmp_path, "test")
    assert train.x.shape == (5 * PER_BATCH, 3, 32, 32) and train.x.dtype == torch.uint8
    assert np.array_equal(train.x[:PER_BATCH].numpy(), expected["data_batch_1"][0])
    assert np.array_equal(train.x[-PER_BATCH:].numpy(), expected["data_batch_5"][0])
    assert train.y[:PER_BATCH].tolist() == expected["data_batch_1"][1]
    assert np.array_equal(test.x.numpy(), expected["test_batch"][0])
    assert train.num_classes == 10 and train.class_names == list("abcdefghij")


def test_pixel_layout_is_rgb_planes(tmp_path):
    """Row = 1024 red, 1024 green, 1024 blue values: a pure-red image must come out red."""
    folder = tmp_path / "b"
    make_cifar(folder)
    red = np.zeros((1, 3, 32, 32), np.uint8)
    red[0, 0] = 255
    (folder / "test_batch").write_bytes(batch_bytes(red, [3]))
    x = load(folder, "test").x
    assert x[0, 0].min() == 255 and x[0, 1:].max() == 0


def test_reads_the_unextracted_archive(tmp_path):
    expected = make_cifar(tmp_path / "src" / "cifar-10-batches-py")
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    os.rename(tmp_path / "src", tmp_path / "elsewhere")
    test = load(tmp_path, "test")
    assert np.array_equal(test.x.numpy(), expected["test_batch"][0])


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_not_executed(tmp_path):
    make_cifar(tmp_path)
    exploit = Exploit()
    exploit.marker = tmp_path / "pwned"
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": exploit}, protocol=2))
    with pytest.raises(GanforgeError, match="test_batch.*refused without running it"):
        load(tmp_path, "test")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("content,needle", [
    (lambda ok: ok[: len(ok) // 2], "truncated or corrupt"),
    (lambda ok: b"garbage" * 10, "test_batch"),
    (lambda ok: pickle.dumps([1, 2, 3]), "not a CIFAR-10 batch dict"),
    (lambda ok: batch_bytes(np.zeros((2, 3, 16, 16), np.uint8), [0, 1]), r"uint8 array \(N, 3072\)"),
    (lambda ok: batch_bytes(np.zeros((2, 3, 32, 32), np.uint8), [0]), "one integer per image"),
    (lambda ok: batch_bytes(np.zeros((2, 3, 32, 32), np.uint8), [0, 10]), "labels outside"),
])
def test_corrupt_batches_give_clear_errors(tmp_path, content, needle):
    make_cifar(tmp_path)
    ok = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(content(ok))
    with pytest.raises(GanforgeError, match=needle) as err:
        load(tmp_path, "test")
    assert "test_batch" in str(err.value)


def test_missing_files_say_where_to_get_them(tmp_path):
    with pytest.raises(GanforgeError, match="cifar-10-python.tar.gz.*--data-dir"):
        load(tmp_path)
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(GanforgeError, match="data_batch_3 missing"):
        load(tmp_path)
    assert len(load(tmp_path, "test")) == PER_BATCH  # the test split does not need the train batches


def test_corrupt_archive(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 50)
    with pytest.raises(GanforgeError, match="cifar-10-python.tar.gz is truncated or corrupt"):
        load(tmp_path)


def test_resized_on_load(tmp_path):
    make_cifar(tmp_path)
    ds = load_dataset(Config(data="cifar10", data_dir=str(tmp_path), image_size=16), "test")
    assert ds.x.shape == (PER_BATCH, 3, 16, 16) and ds.x.dtype == torch.uint8
