"""The main job learns: a digits classifier trained on real data recognises the DCGAN's samples."""
import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

import ganforge
from ganforge.config import make_config
from ganforge.data import load_dataset


@pytest.fixture(scope="module")
def digits_classifier():
    train, test = load_dataset(make_config(), "train"), load_dataset(make_config(), "test")
    flat = lambda d: d.to_model(d.x).flatten(1).numpy()  # noqa: E731
    clf = MLPClassifier((256,), max_iter=400, random_state=0).fit(flat(train), train.y.numpy())
    assert clf.score(flat(test), test.y.numpy()) > 0.95
    return clf


def _recognition(clf, run):
    samples = ganforge.load(run).sample(1000, seed=0).flatten(1).numpy()
    proba = clf.predict_proba(samples)
    confident = (proba.max(1) > 0.9).mean()
    counts = np.bincount(proba.argmax(1), minlength=10)
    return confident, counts


def test_dcgan_digits_samples_are_recognised(tmp_path, digits_classifier):
    run = ganforge.train(make_config({"steps": 1500, "out": str(tmp_path / "run"), "sample_every": 0,
                                      "checkpoint_every": 0, "log_every": 100}))
    confident, counts = _recognition(digits_classifier, run)
    assert confident > 0.6, f"only {confident:.0%} of samples recognised with confidence > 0.9"
    assert (counts >= 20).all(), f"classes missing or rare (mode collapse): {counts}"


def test_untrained_generator_is_not_recognised(tmp_path, digits_classifier):
    """The check above can fail: a barely trained generator does not pass it."""
    run = ganforge.train(make_config({"steps": 5, "out": str(tmp_path / "run"), "sample_every": 0}))
    confident, counts = _recognition(digits_classifier, run)
    assert confident < 0.6 or (counts < 20).any()
