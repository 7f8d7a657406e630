"""toy-ring / toy-grid: PacGAN's mixtures, deterministic, configurable, with clear errors."""
import numpy as np
import pytest
import torch

from ganforge.config import Config
from ganforge.data import DATASETS, load_dataset
from ganforge.data.toy import toy_modes
from ganforge.errors import GanforgeError


def _load(name, split="train", **options):
    return load_dataset(Config(data=name, options=options), split)


def test_ring_defaults_are_pacgan_settings():
    centres, std = toy_modes("toy-ring")
    assert centres.shape == (8, 2) and std == 0.01
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0)
    angles = np.sort(np.mod(np.arctan2(centres[:, 1], centres[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8)


def test_grid_defaults_are_pacgan_settings():
    centres, std = toy_modes("toy-grid")
    assert centres.shape == (25, 2) and std == 0.05
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in centres.tolist()} == expected


@pytest.mark.parametrize("name", ["toy-ring", "toy-grid"])
def test_samples_follow_the_mixture(name):
    ds = _load(name, n_samples=20_000)
    centres, std = toy_modes(name)
    assert ds.kind == "vector" and ds.x.dtype == torch.float32 and ds.x.shape == (20_000, 2)
    assert ds.num_classes == len(centres) and ds.y.dtype == torch.int64
    # Each point lies near its labelled mode, with the configured spread.
    offsets = ds.x.numpy() - centres[ds.y.numpy()]
    assert abs(offsets.std() - std) < 0.05 * std
    assert abs(offsets.mean()) < 0.05 * std
    # Modes are picked uniformly.
    counts = np.bincount(ds.y.numpy(), minlength=len(centres))
    assert counts.min() > 0.8 * 20_000 / len(centres)
    # Meta carries what the mode metric needs, JSON-able.
    assert ds.meta["std"] == std and np.allclose(ds.meta["centres"], centres)
    assert ds.to_model(ds.x[:5]).dtype == torch.float32 and torch.equal(ds.from_model(ds.x[:5]), ds.x[:5])


def test_deterministic_independent_of_training_seed_and_splits_differ():
    a = load_dataset(Config(data="toy-ring", seed=1, options={"n_samples": 500}), "train")
    b = load_dataset(Config(data="toy-ring", seed=2, options={"n_samples": 500}), "train")
    assert torch.equal(a.x, b.x)
    test = _load("toy-ring", "test", n_test_samples=500)
    assert len(test) == 500 and not torch.equal(a.x, test.x)
    other = _load("toy-ring", n_samples=500, data_seed=3)
    assert not torch.equal(a.x, other.x)


def test_options_configure_the_mixture():
    ds = _load("toy-ring", n_modes=5, radius=3.0, std=0.1, n_samples=1000)
    centres = np.array(ds.meta["centres"])
    assert centres.shape == (5, 2) and ds.num_classes == 5
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 3.0)
    assert ds.meta["std"] == 0.1 and len(ds) == 1000
    grid, _ = toy_modes("toy-grid", {"n_modes": 9, "spacing": 1.0})
    assert sorted(set(grid[:, 0].tolist())) == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("name,options,needle", [
    ("toy-grid", {"n_modes": 10}, "perfect square"),
    ("toy-ring", {"std": -1}, "'std'"),
    ("toy-ring", {"n_modes": 2.5}, "'n_modes'"),
    ("toy-ring", {"n_samples": "many"}, "'n_samples'"),
    ("toy-ring", {"radius": float("nan")}, "'radius'"),
])
def test_bad_options_give_clear_errors(name, options, needle):
    with pytest.raises(GanforgeError, match=needle):
        _load(name, **options)


def test_registered():
    assert "toy-ring" in DATASETS and "toy-grid" in DATASETS
