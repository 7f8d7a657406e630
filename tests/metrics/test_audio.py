"""The audio digit classifier and WaveGAN's protocol (IS, Fréchet distance, accuracy on the requested digit)."""
import json
import os
from pathlib import Path

import pytest
import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate
from ganforge.metrics import audio
from ganforge.metrics.audio import audio_classifier, mel_filterbank, score_clips
from tests.conftest import SHARED_DATA

pytest.importorskip("soundfile")


def test_mel_filterbank_covers_the_band():
    fb = mel_filterbank(1024, 40, 16000)
    assert fb.shape == (40, 513) and fb.min() >= 0 and fb.max() <= 1
    assert (fb.sum(0)[5:-5] > 0).all()  # every bin inside the band falls in some filter
    peaks = fb.argmax(1)
    assert (peaks[1:] > peaks[:-1]).all()  # centres increase


STEPS = 150  # a short classifier training (the protocol's default is 800 steps)


@pytest.fixture(scope="module")
def digits():
    root = SHARED_DATA / "spoken-digits"
    if not root.is_dir():
        pytest.skip(f"spoken digits not found at {root}")
    # A reduced setting (1 kHz, 1,024 samples: whole words, narrow band) keeps the classifier cheap to train.
    cfg = make_config({"data": "spoken-digits", "data_dir": str(root), "options": {"sample_rate": 1000, "length": 1024}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(audio.HYPER_PARAMETERS, "steps", STEPS)
        yield load_dataset(cfg, "train"), load_dataset(cfg, "test")


def test_classifier_recognises_held_out_digits_and_is_cached(digits):
    train, test = digits
    model = audio_classifier(train)
    with torch.inference_mode():
        accuracy = float((model(test.to_model(test.x)).argmax(1) == test.y).float().mean())
    assert accuracy > 0.6, accuracy  # chance is 0.1
    cached = list((Path(os.environ["GANFORGE_CACHE"]) / "classifiers").glob("audio-cnn-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["hyper_parameters"]["steps"] == STEPS
    again = audio_classifier(train)  # from the cache: the same weights
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_protocol_separates_real_clips_from_noise(digits):
    train, test = digits
    protocol = audio.AudioProtocol(train, test)
    real = protocol.real
    # a short-trained classifier is not confident (its real-data IS is low, ~1.8 here, vs 10 at most)
    assert real["classifier_test_accuracy"] > 0.6 and real["real_test_is"] > 1.4, real
    noise = torch.randn(len(test), 1, 1024).mul(0.1).clamp(-1, 1)
    noise_scores = score_clips(protocol.extractor, noise, protocol.reference, test.y)
    assert noise_scores["is"] < real["real_test_is"] - 0.3 and noise_scores["accuracy"] < 0.3, (real, noise_scores)
    assert real["real_train_vs_test_fd"] < 0.1 * noise_scores["fd"], (real, noise_scores)
    # the same extractor through the generic evaluate() (what `ganforge eval --extractor audio-classifier` runs)
    scores = evaluate(noise, test, ["fid"], extractor="audio-classifier", train_dataset=train, cache=False)
    assert scores["fid"] > 10 * real["real_train_vs_test_fd"]
    with pytest.raises(GanforgeError, match="do not match"):
        protocol.extractor.extract(torch.zeros(2, 1, 512))
