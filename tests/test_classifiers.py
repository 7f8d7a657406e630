"""ganforge.classifiers: accurate, frozen, deterministic, cached, and clear about bad input."""
from __future__ import annotations

import json

import pytest
import torch

from ganforge.classifiers import classifier_accuracy, pretrained
from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError


@pytest.fixture(scope="module")
def digits():
    return load_dataset(Config(data="digits"), "train"), load_dataset(Config(data="digits"), "test")


def test_cnn_on_digits_is_accurate_on_held_out_split_and_frozen(digits, tmp_path):
    train, test = digits
    model = pretrained(train, "cnn", cache_dir=tmp_path)
    assert classifier_accuracy(model, test) >= 0.95
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    x = train.to_model(train.x[:5])
    assert model(x).shape == (5, 10)
    assert model.features(x).shape == (5, 128)


def test_pooled_cnn_is_accurate_and_ignores_where_things_are(digits, tmp_path):
    """Global mean + max pooling: the same logits when the content moves by 4 px (two strides) inside a blank
    border, unlike a flattening CNN."""
    train, test = digits
    model = pretrained(train, "pooled", cache_dir=tmp_path)
    assert classifier_accuracy(model, test) >= 0.9
    x = train.to_model(train.x[:4])
    assert model.features(x).shape == (4, 128)
    blank = x.amin()  # the digits' background
    canvas = torch.full((4, 1, 16, 24), float(blank))  # content >= 2 feature columns away from the zero padding
    left, right = canvas.clone(), canvas.clone()
    left[..., 4:12, 6:14], right[..., 4:12, 10:18] = x, x
    assert torch.allclose(model(left), model(right), atol=1e-5)


@pytest.mark.parametrize("kind, floor", [("logreg", 0.92), ("mlp", 0.93)])
def test_flat_classifiers_on_digits(digits, tmp_path, kind, floor):
    train, test = digits
    model = pretrained(train, kind, cache_dir=tmp_path)
    assert classifier_accuracy(model, test) >= floor
    x = train.to_model(train.x[:3])
    expected = 64 if kind == "logreg" else 256  # logreg's features are its (flattened) input
    assert model.features(x).shape == (3, expected)


def test_gradients_flow_to_the_input_but_not_into_the_weights(digits, tmp_path):
    train, _ = digits
    model = pretrained(train, "mlp", cache_dir=tmp_path)
    x = train.to_model(train.x[:4]).requires_grad_(True)
    model(x).logsumexp(1).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_deterministic_cached_and_global_rng_untouched(digits, tmp_path):
    train, _ = digits
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = pretrained(train, "logreg", cache_dir=tmp_path / "a", steps=50)
    assert torch.equal(torch.get_rng_state(), before)
    b = pretrained(train, "logreg", cache_dir=tmp_path / "b", steps=50)  # trained again from scratch
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    files = sorted(p.name for p in (tmp_path / "a" / "classifiers").iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".safetensors")
    meta = json.loads((tmp_path / "a" / "classifiers" / files[0]).read_text())
    assert meta["hyper_parameters"]["steps"] == 50 and meta["seed"] == 0
    c = pretrained(train, "logreg", cache_dir=tmp_path / "a", steps=50, seed=1)  # another seed: other key
    assert len(list((tmp_path / "a" / "classifiers").iterdir())) == 4
    assert not torch.equal(c.linear.weight, a.linear.weight)


def test_corrupt_cache_entry_is_retrained(digits, tmp_path):
    train, _ = digits
    a = pretrained(train, "logreg", cache_dir=tmp_path, steps=30)
    tensors = next((tmp_path / "classifiers").glob("*.safetensors"))
    tensors.write_bytes(b"garbage")
    b = pretrained(train, "logreg", cache_dir=tmp_path, steps=30)
    assert torch.equal(a.linear.weight, b.linear.weight)


def test_vectors_use_flat_classifiers_and_refuse_cnn(tmp_path):
    train = load_dataset(Config(data="toy-grid", options={"n_samples": 3000}), "train")
    test = load_dataset(Config(data="toy-grid", options={"n_test_samples": 1000}), "test")
    model = pretrained(train, "mlp", cache_dir=tmp_path, steps=300)
    assert classifier_accuracy(model, test) > 0.97  # 25 well-separated modes
    with pytest.raises(GanforgeError, match="cnn"):
        pretrained(train, "cnn", cache_dir=tmp_path)


def test_bad_input_is_a_clear_error(tmp_path):
    unlabelled = Dataset("blobs", torch.randn(20, 2))
    with pytest.raises(GanforgeError, match="labels"):
        pretrained(unlabelled, "mlp", cache_dir=tmp_path)
    labelled = Dataset("blobs", torch.randn(20, 2), torch.arange(20) % 2)
    with pytest.raises(GanforgeError, match="kind"):
        pretrained(labelled, "svm", cache_dir=tmp_path)
    with pytest.raises(GanforgeError, match="steps"):
        pretrained(labelled, "mlp", cache_dir=tmp_path, steps=0)
