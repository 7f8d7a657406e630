"""Audio folders: decoding, resampling, mono, crop/pad, labels from sub-folders, splits, clear errors."""
import numpy as np
import pytest
import torch
from scipy.io import wavfile

from ganforge.config import make_config
from ganforge.data import load_dataset, to_model, from_model
from ganforge.data.audio import read_clip
from ganforge.errors import GanforgeError
from tests.conftest import SHARED_DATA

pytest.importorskip("soundfile")


def tone(freq, rate, seconds, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def write(path, data, rate):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, np.round(data * 32767).astype(np.int16))


def config(root, **options):
    return make_config({"data": "audio-folder", "data_dir": str(root), "options": options})


def test_resampled_mono_padded_and_cropped(tmp_path):
    # 8 kHz stereo 440 Hz, 0.5 s -> 16 kHz mono: 8,000 samples of tone, then zeros up to 16,384
    write(tmp_path / "a.wav", tone(440, 8000, 0.5, channels=2), 8000)
    clip = read_clip(tmp_path / "a.wav", 16000, 16384)
    assert clip.shape == (16384,) and clip.dtype == np.float32
    assert np.abs(clip[8100:]).max() == 0
    spectrum = np.abs(np.fft.rfft(clip[1000:7000]))
    assert abs(np.argmax(spectrum) * 16000 / 6000 - 440) < 5  # the tone survives resampling at its pitch
    long = read_clip(tmp_path / "a.wav", 16000, 1024)  # cropped to the first 1,024 samples
    assert long.shape == (1024,) and np.allclose(long, clip[:1024])


def test_labels_from_subfolders_and_seeded_split(tmp_path):
    for digit in ("0", "1", "2"):
        for i in range(5):
            write(tmp_path / digit / f"{i}.wav", tone(200 + 100 * int(digit), 16000, 0.1), 16000)
    train, test = (load_dataset(config(tmp_path, length=1024), s) for s in ("train", "test"))
    assert train.kind == "audio" and train.class_names == ["0", "1", "2"] and train.x.dtype == torch.int16
    assert train.x.shape[1:] == (1, 1024) and len(train) + len(test) == 15 and len(test) >= 1
    unlabelled = load_dataset(config(tmp_path, length=1024, labels="none"))
    assert unlabelled.y is None
    # int16 PCM in data space, [-1, 1] floats in model space, and back
    x = to_model(train.x[:2], "audio")
    assert x.dtype == torch.float32 and x.abs().max() <= 1
    assert torch.equal(from_model(x, "audio"), train.x[:2])


def test_clear_errors(tmp_path):
    with pytest.raises(GanforgeError, match="holds no WAV"):
        load_dataset(config(tmp_path))
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wav")
    with pytest.raises(GanforgeError, match="cannot read audio file .*bad.wav"):
        load_dataset(config(tmp_path))
    with pytest.raises(GanforgeError, match="option 'labels'"):
        load_dataset(config(tmp_path, labels="maybe"))
    (tmp_path / "bad.wav").unlink()
    write(tmp_path / "loose.wav", tone(300, 16000, 0.1), 16000)
    with pytest.raises(GanforgeError, match="class sub-folder"):
        load_dataset(config(tmp_path, labels="folders"))


def test_spoken_digits_metadata_split():
    root = SHARED_DATA / "spoken-digits"
    if not root.is_dir():
        pytest.skip(f"spoken digits not found at {root}")
    cfg = make_config({"data": "spoken-digits", "data_dir": str(root), "options": {"sample_rate": 4000, "length": 1024}})
    train, test = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    assert (len(train), len(test), train.num_classes) == (1800, 200, 10)
    assert train.meta["sample_rate"] == 4000 and train.x.shape[1:] == (1, 1024)
