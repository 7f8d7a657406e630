"""WaveGAN / cWaveGAN: the paper's settings, audio-only, sampling to WAVs + spectrograms, and a short
learning test on the real spoken digits.

The learning test runs a reduced task, said plainly: 1,024-sample clips at 4 kHz (the first 0.256 s
of each word; 3 of the paper's 5 upsampling layers), model size d=8, and a learning rate of 5e-4 instead
of the paper's 1e-4, so that 60 generator steps (5 critic steps each) fit the test budget. The check is
a spectral statistic against held-out real clips: the mean power in 16 frequency bands, in dB. An
untrained generator is ~19 dB off on average (its output is far too quiet and flat); the trained one
must be within 11 dB, and closer than the untrained control by at least 7 dB.
"""
import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import Batch, load_dataset
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train.trainer import Trainer
from tests.conftest import SHARED_DATA
from tests.recipes.learning import QUIET, train

pytest.importorskip("soundfile")
DIGITS = SHARED_DATA / "spoken-digits"
SMALL = dict(data="spoken-digits", data_dir=str(DIGITS), options={"sample_rate": 4000, "length": 1024},
             g_width=8, d_width=8, batch_size=32)


def needs_digits():
    if not DIGITS.is_dir():
        pytest.skip(f"spoken digits not found at {DIGITS}")


def band_db(x: torch.Tensor, bands: int = 16) -> torch.Tensor:
    """Mean power of the clips in ``bands`` equal frequency bands, in dB."""
    power = torch.fft.rfft(x.flatten(1).double(), dim=1).abs().pow(2).mean(0)[1:]
    return 10 * torch.log10(torch.stack([b.mean() for b in power.chunk(bands)]) + 1e-12)


def test_paper_settings():
    cfg = make_config({"recipe": "wavegan"})
    assert (cfg.loss, cfg.gp_weight, cfg.n_critic, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2) == \
        ("wasserstein", 10.0, 5, 1e-4, 1e-4, 0.5, 0.9)
    assert (cfg.batch_size, cfg.z_dim, cfg.g_width, cfg.d_width, cfg.data) == (64, 100, 64, 64, "spoken-digits")
    assert make_config({"recipe": "cwavegan"}).n_critic == 5 and RECIPES.get("cwavegan").conditional


def test_conditional_default_is_the_auxiliary_classifier_of_ac_wgan_gp():
    needs_digits()
    base = {**QUIET, **SMALL, "recipe": "cwavegan", "steps": 1, "g_width": 2, "d_width": 2, "batch_size": 8}
    cfg = make_config(base)
    data = load_dataset(cfg)
    recipe = Trainer(cfg, run_dir=None, dataset=data).recipe
    assert (recipe.options.conditioning, recipe.options.aux_weight, recipe.options.aux_weight_g) == ("aux", 1.0, 0.1)
    d = recipe.discriminator.eval()  # no phase shuffle: the terms can be recomputed exactly
    assert d.classifier is not None and d.embed is None
    x, y = data.to_model(data.x[:8]), data.y[:8]
    wanted = torch.arange(8) % 10
    with torch.no_grad():
        fake = recipe.generator(recipe.latent(8), wanted)
        score, classes = d.classify(x)
        loss, logs = recipe.discriminator_loss(Batch(x=x, y=y), fake, wanted, 0)
        # D: WGAN + 1.0 x CE of its classification of the real clips (not of the fakes)
        assert torch.allclose(loss - logs["d_loss"], torch.nn.functional.cross_entropy(classes, y))
        loss, logs = recipe.generator_loss(Batch(x=x, y=y), fake, wanted, 0)
        # G: WGAN + 0.1 x CE of D's classification of its clips against the requested digits
        ce = torch.nn.functional.cross_entropy(d.classify(fake)[1], wanted)
        assert torch.allclose(loss - logs["g_loss"], 0.1 * ce) and torch.allclose(logs["g_aux"], ce)
    projection = make_config({**base, "options": {**SMALL["options"], "conditioning": "projection"}})
    d = RECIPES.get("cwavegan")(projection, data).discriminator
    assert d.embed is not None and d.classifier is None
    for bad, match in (({"conditioning": "concat"}, "use one of aux, projection"),
                       ({"aux_weight_g": -1.0}, "non-negative")):
        cfg = make_config({**base, "options": {**SMALL["options"], **bad}})
        with pytest.raises(GanforgeError, match=match):
            RECIPES.get("cwavegan")(cfg, data)


def test_refuses_images():
    cfg = make_config({"recipe": "wavegan", "data": "digits"})
    with pytest.raises(GanforgeError, match="generates audio"):
        RECIPES.get("wavegan")(cfg, load_dataset(cfg))


def test_learns_the_spectrum_of_spoken_digits():
    needs_digits()
    settings = dict(SMALL, recipe="wavegan", steps=60, lr_g=5e-4, lr_d=5e-4)
    cfg = make_config({**QUIET, **settings})
    test = load_dataset(cfg, "test")
    real = band_db(test.to_model(test.x))
    # the control: the same generator at initialisation (the trainer seeds it as the trained run's)
    untrained = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg)).recipe.sample(200, seed=1).x
    trained = train(**settings).recipe.sample(200, seed=1).x
    before, after = (float((band_db(x) - real).abs().mean()) for x in (untrained, trained))
    assert before > 15, before  # the control fails the check below
    assert after < 11 and after < before - 7, (before, after)


def test_sample_writes_wavs_and_a_spectrogram_grid(tmp_path):
    needs_digits()
    run = tmp_path / "run"
    cfg = make_config({**QUIET, **SMALL, "recipe": "cwavegan", "steps": 1, "g_width": 2, "d_width": 2,
                       "batch_size": 8, "sample_every": 1})
    Trainer(cfg, run_dir=run, dataset=load_dataset(cfg)).fit()
    from scipy.io import wavfile

    # training previews: a WAV of 2 clips per class (0.25 s gaps) and their spectrogram grid, per step and at the end
    for stem in ("samples/step-00000001", "samples"):
        assert wavfile.read(run / f"{stem}.wav")[1].shape == (20 * 1024 + 19 * 1000,)
        assert (run / f"{stem}.png").stat().st_size > 0
    assert main(["sample", str(run), "-n", "4", "--class", "3", "--out", str(tmp_path / "clips")]) == 0
    wavs = sorted((tmp_path / "clips").glob("*.wav"))
    assert [w.name for w in wavs] == [f"00000{i}-3.wav" for i in range(4)]
    rate, data = wavfile.read(wavs[0])
    assert (rate, data.shape, data.dtype) == (4000, (1024,), np.int16)
    assert (tmp_path / "clips" / "spectrograms.png").stat().st_size > 0
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "all.wav")]) == 0
    assert wavfile.read(tmp_path / "all.wav")[1].shape == (3 * 1024 + 2 * 1000,)  # 0.25 s gaps
    assert main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "x.csv")]) == 2
    assert main(["sample", str(run), "--class", "10", "--out", str(tmp_path / "y.wav")]) == 2
