"""BigGAN recipe: the paper's settings, orthogonal regularisation in G's loss, gradient accumulation equal to
one large batch, class + truncation sampling from the CLI, and a short class-conditional run on real data."""
from statistics import mean

import pytest
import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train.trainer import StepContext, Trainer
from tests.recipes.learning import QUIET, class_agreement, one_thread

SMALL = dict(QUIET, recipe="biggan", data="digits", g_width=8, d_width=8, z_dim=24, batch_size=16,
             options={"shared_dim": 8})


def test_paper_settings_and_orthogonal_regularisation_in_the_generator_loss():
    cfg = make_config(SMALL)
    assert (cfg.loss, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.n_critic, cfg.spectral_norm) == \
        ("hinge", 5e-5, 2e-4, 0.0, 0.999, 2, True)
    recipe = RECIPES.get("biggan")(cfg, load_dataset(cfg))
    assert recipe.task == "class" and set(recipe.knobs) == {"labels", "truncation"}
    assert [(p.name, p.repeat) for p in recipe.phases()] == [("D", 2), ("G", 1)]
    y = torch.arange(16) % 10
    fake, real = recipe.fake(16, y), make_batch(recipe)
    recipe.nets["discriminator"].eval()  # no power iteration between the two evaluations
    loss, logs = recipe.generator_loss(real, fake, y, 0)
    recipe.options.ortho_beta = 0.0
    without, logs_without = recipe.generator_loss(real, fake, y, 0)
    assert "ortho" not in logs_without and torch.allclose(loss - without, 1e-4 * logs["ortho"], rtol=1e-4)
    loss.backward()  # the penalty's gradient reaches G's (spectrally normalised) raw weights
    assert all(p.grad is not None for p in recipe.nets["generator"].regularized_weights())
    with pytest.raises(GanforgeError, match="'accumulate' is 0"):
        RECIPES.get("biggan")(cfg.replace(options={"accumulate": 0}), recipe.dataset)


def make_batch(recipe, n=16):
    from ganforge.data import make_sampler

    return make_sampler(recipe.dataset, n, 0).next()


def test_gradient_accumulation_equals_one_large_batch():
    """Two accumulated batches of 8 step D exactly as one batch of 16 (same reals: the index sampler's order
    does not depend on the batch size within an epoch; same fakes and labels, fed in)."""
    torch.manual_seed(0)
    fakes, labels = torch.rand(16, 1, 8, 8) * 2 - 1, torch.arange(16) % 10
    weights = {}
    for batch_size, accumulate in ((16, 1), (8, 2)):
        cfg = make_config({**SMALL, "batch_size": batch_size, "precision": "fp32",  # an fp32 identity: bf16 rounds
                           "options": {**SMALL["options"], "accumulate": accumulate}})     # the two sums differently
        trainer = Trainer(cfg, run_dir=None, callbacks=[])
        recipe = trainer.recipe
        chunks = list(zip(fakes.split(batch_size), labels.split(batch_size)))
        recipe.fake = lambda n, y, chunks=chunks: chunks.pop(0)[0]
        recipe.random_labels = lambda n, c=list(labels.split(batch_size)): c.pop(0)
        recipe.nets["discriminator"].eval()  # spectral norm's power iteration runs once per forward in training
        d_phase = recipe.phases()[0]
        assert d_phase.accumulate == accumulate
        d_phase.repeat = 1
        before = {k: v.clone() for k, v in recipe.nets["discriminator"].state_dict().items()}
        trainer.apply_schedule()
        StepContext(trainer).run(d_phase)
        weights[accumulate] = {k: v.clone() for k, v in recipe.nets["discriminator"].state_dict().items()}
    for key, value in weights[1].items():
        assert torch.allclose(value, weights[2][key], atol=1e-6), key
    assert any(not torch.equal(before[k], v) for k, v in weights[2].items())  # the step did move D
    assert trainer.sampler.drawn == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Digits (real, 8x8), 400 steps: BigGAN's networks and losses at a CI-sized width, with a higher lr than the
    paper's (whose 5e-5 for G is tuned for 100k+ steps) and one D step per G step, so that a short run shows
    class control (measured: mean agreement 0.73 after 400 steps at batch 64; the paper's lrs: ~0.1)."""
    out = tmp_path_factory.mktemp("biggan") / "run"
    cfg = make_config({**SMALL, "steps": 400, "batch_size": 32, "g_width": 16, "d_width": 16, "z_dim": 48,
                       "options": {"shared_dim": 16}, "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "n_critic": 1,
                       "ema_decay": 0.999, "out": str(out), "checkpoint_every": 0})
    with one_thread():
        control = Trainer(cfg.replace(steps=1, out=str(out) + "-control"), callbacks=[])
        control.fit()
        trainer = Trainer(cfg, callbacks=[])
        trainer.fit()
    return trainer, control


def test_generates_the_requested_class_far_above_an_untrained_control(trained):
    trainer, control = trained
    learned, untrained = class_agreement(trainer, per_class=50), class_agreement(control, per_class=50)
    assert mean(untrained) < 0.3 and mean(learned) > mean(untrained) + 0.3, (learned, untrained)


def test_sample_command_takes_a_class_and_truncation(trained, tmp_path):
    from ganforge.cli import main

    trainer, _ = trained
    assert main(["sample", str(trainer.run_dir), "-n", "8", "--class", "3", "--truncation", "0.5",
                 "--out", str(tmp_path / "three.npz")]) == 0
    import numpy as np

    saved = np.load(tmp_path / "three.npz")
    assert (saved["y"] == 3).all() and saved["x"].shape[0] == 8
    assert main(["sample", str(trainer.run_dir), "--truncation", "-1", "--out", str(tmp_path / "x.png")]) == 2
    with torch.no_grad():
        z = trainer.recipe.sample(64, seed=1, truncation=0.25).extra["z"]
    assert z.abs().max() <= 0.25
