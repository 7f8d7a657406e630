"""MNIST / Fashion-MNIST IDX loading: real files, both layouts, corrupt files, mocked download."""
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.config import Config
from ganforge.data import idx, load_dataset
from ganforge.errors import GanforgeError

README_CONTENT_SHA256 = {  # from shared/data/README.md
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "mnist-10k/images-idx3-ubyte": "87ff80b1af14cbb3cd72b14f87b48775177b2bbd6ad1b2645c25bd389d95c284",
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: any unmocked download attempt fails the test loudly."""
    def forbidden(url):
        raise AssertionError(f"test tried the network: {url}")

    monkeypatch.setattr(idx, "fetch_url", forbidden)
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = True) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)
    return path


def tiny_split(directory: Path, prefix: str, n: int = 12, gz: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    write(directory / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(directory / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


def load(name, directory, split="train"):
    return load_dataset(Config(data=name, data_dir=str(directory)), split)


# -- real data ---------------------------------------------------------------------------------------
def test_fashion_mnist_official_splits(shared_data):
    train = load("fashion-mnist", shared_data / "fashion-mnist")
    test = load("fashion-mnist", shared_data, "test")  # the <name>/ sub-folder is found too
    assert train.x.shape == (60_000, 1, 28, 28) and train.x.dtype == torch.uint8
    assert test.x.shape == (10_000, 1, 28, 28)
    assert torch.equal(train.y.bincount(), torch.full((10,), 6000))
    assert torch.equal(test.y.bincount(), torch.full((10,), 1000))
    assert train.num_classes == 10 and train.class_names[0] == "T-shirt/top" and train.kind == "image"
    # The loaded pixels are exactly the published content.
    content = hashlib.sha256(idx.read_bytes(shared_data / "fashion-mnist/train-images-idx3-ubyte.gz"))
    assert content.hexdigest() == README_CONTENT_SHA256["fashion-mnist/train-images-idx3-ubyte"]
    header = idx.read_bytes(shared_data / "fashion-mnist/train-images-idx3-ubyte.gz")[:16]
    assert hashlib.sha256(header + train.x.numpy().tobytes()).hexdigest() == content.hexdigest()


def test_mnist_10k_pair_layout_seeded_split(shared_data):
    directory = shared_data / "mnist-10k"
    content = hashlib.sha256(idx.read_bytes(directory / "images-idx3-ubyte.gz")).hexdigest()
    assert content == README_CONTENT_SHA256["mnist-10k/images-idx3-ubyte"]
    train, test = load("mnist", directory), load("mnist", directory, "test")
    assert len(train) + len(test) == 10_000 and len(test) == round(10_000 / 6)
    assert set(train.y.unique().tolist()) == set(range(10)) == set(test.y.unique().tolist())
    # Disjoint and deterministic.
    train_rows = {bytes(r) for r in train.x.flatten(1).numpy()}
    assert not any(bytes(r) in train_rows for r in test.x.flatten(1).numpy())
    assert torch.equal(load("mnist", directory, "test").x, test.x)
    assert train.meta["split"].startswith("seeded permutation")


# -- formats -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_tiny_files_round_trip_gzip_or_raw(tmp_path, gz):
    images, labels = tiny_split(tmp_path, "train", gz=gz)
    tiny_split(tmp_path, "t10k", n=5, gz=gz, seed=1)
    ds = load("mnist", tmp_path)
    assert np.array_equal(ds.x[:, 0].numpy(), images) and np.array_equal(ds.y.numpy(), labels)
    assert len(load("mnist", tmp_path, "test")) == 5


def test_dotted_file_names_are_accepted(tmp_path):
    images, _ = tiny_split(tmp_path, "train", gz=False)
    for p in tmp_path.iterdir():
        p.rename(p.with_name(p.name.replace("-idx", ".idx")))
    assert np.array_equal(load("mnist", tmp_path).x[:, 0].numpy(), images)


# -- bad files ---------------------------------------------------------------------------------------
def _corrupt(tmp_path, how):
    tiny_split(tmp_path, "train")
    images_path = tmp_path / "train-images-idx3-ubyte.gz"
    labels_path = tmp_path / "train-labels-idx1-ubyte.gz"
    content = gzip.decompress(images_path.read_bytes())
    if how == "truncated":
        write(tmp_path / "train-images-idx3-ubyte", content[:-100])
    elif how == "trailing":
        write(tmp_path / "train-images-idx3-ubyte", content + b"junk")
    elif how == "truncated-gzip":
        images_path.write_bytes(images_path.read_bytes()[:-40])
    elif how == "swapped":
        images_path.write_bytes(labels_path.read_bytes())
    elif how == "tiny":
        write(tmp_path / "train-images-idx3-ubyte", b"\x00\x00")
    elif how == "count-mismatch":
        write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(7, np.uint8)))
    elif how == "bad-label":
        write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.full(12, 42, np.uint8)))
    return images_path, labels_path


@pytest.mark.parametrize("how,needle,names", [
    ("truncated", "truncated", ["train-images"]),
    ("trailing", "longer than its header", ["train-images"]),
    ("truncated-gzip", "truncated or corrupt gzip", ["train-images"]),
    ("swapped", "magic number", ["train-images"]),
    ("tiny", "too short", ["train-images"]),
    ("count-mismatch", "12 images but", ["train-images", "train-labels"]),
    ("bad-label", "label 42", ["train-labels"]),
])
def test_corrupt_files_give_clear_errors_naming_the_file(tmp_path, how, needle, names):
    _corrupt(tmp_path, how)
    with pytest.raises(GanforgeError, match=needle) as err:
        load("mnist", tmp_path)
    for name in names:
        assert name in str(err.value)


# -- missing files and download ----------------------------------------------------------------------
def test_missing_files_offline_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    with pytest.raises(GanforgeError) as err:
        load("fashion-mnist", tmp_path / "nowhere")
    message = str(err.value)
    for needle in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", str(tmp_path / "nowhere"),
                   "does not exist", "--data-dir"):
        assert needle in message
    assert not (tmp_path / "nowhere").exists()


def test_network_failure_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def unreachable(url):
        calls.append(url)
        raise OSError("Name or service not known")

    monkeypatch.setattr(idx, "fetch_url", unreachable)
    with pytest.raises(GanforgeError, match="download failed.*Name or service not known"):
        load("mnist", tmp_path / "mnist")
    assert len(calls) == len(idx.SOURCES["mnist"]["mirrors"])  # every mirror tried once, then give up
    assert not (tmp_path / "mnist").exists()


def test_download_rejects_bad_checksum_without_leaving_files(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "fetch_url", lambda url: gzip.compress(b"not the real thing"))
    with pytest.raises(GanforgeError, match="sha256 mismatch"):
        load("mnist", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_verified_fashion_mnist_from_second_mirror(tmp_path, monkeypatch, shared_data):
    """A mocked server serves the real (recompressed) test files: the content sha256 verifies them."""
    served = []

    def server(url):
        if url.startswith(idx.SOURCES["fashion-mnist"]["mirrors"][0]):
            raise OSError("connection refused")
        served.append(url)
        return (shared_data / "fashion-mnist" / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(idx, "fetch_url", server)
    target = tmp_path / "new" / "fashion-mnist"
    ds = load("fashion-mnist", target, "test")
    assert len(ds) == 10_000 and torch.equal(ds.y.bincount(), torch.full((10,), 1000))
    assert sorted(p.name for p in target.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert len(served) == 2
    monkeypatch.setattr(idx, "fetch_url", lambda url: pytest.fail("files present: no second download"))
    assert len(load("fashion-mnist", target, "test")) == 10_000


def test_download_mnist_archive_checksum(tmp_path, monkeypatch):
    """MNIST is verified by the official archives' sha256 (tiny stand-ins here, with their hashes)."""
    archives = {}
    for stem, array in (("train-images-idx3-ubyte", np.ones((3, 28, 28), np.uint8)),
                        ("train-labels-idx1-ubyte", np.array([1, 2, 3], np.uint8))):
        archives[stem] = gzip.compress(idx_bytes(array))
    hashes = {stem: hashlib.sha256(data).hexdigest() for stem, data in archives.items()}
    monkeypatch.setitem(idx.SOURCES["mnist"], "archive_sha256", hashes)
    monkeypatch.setattr(idx, "fetch_url", lambda url: archives[url.rsplit("/", 1)[1][:-3]])
    ds = load("mnist", tmp_path)
    assert ds.y.tolist() == [1, 2, 3]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_download_under_ganforge_data_goes_to_the_dataset_subfolder(tmp_path, monkeypatch, shared_data):
    """MNIST and Fashion-MNIST share file names: a shared $GANFORGE_DATA root gets one sub-folder each."""
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    monkeypatch.setattr(idx, "fetch_url",
                        lambda url: (shared_data / "fashion-mnist" / url.rsplit("/", 1)[1]).read_bytes())
    ds = load_dataset(Config(data="fashion-mnist"), "test")
    assert len(ds) == 10_000 and (tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert not list(tmp_path.glob("*.gz"))
