"""The regularisers wired into the Recipe base: every recipe gets them from the config."""
import pytest
import torch

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import r1_penalty
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase
from tests.recipes.learning import QUIET, TOY, assert_learns_the_ring, mode_coverage, one_thread, train

SMALL = dict(data="digits", g_width=8, d_width=8, z_dim=8, batch_size=16, **QUIET)


def _recipe(**overrides):
    cfg = make_config({**SMALL, **overrides})
    return RECIPES.get(cfg.recipe)(cfg, load_dataset(cfg))


def _batch(recipe, n=16):
    from ganforge.data import BatchSampler

    return BatchSampler(recipe.dataset, n, seed=0).next()


def test_diffaugment_reaches_discriminator_for_real_and_fake_in_both_phases():
    recipe = _recipe(recipe="dcgan", diffaugment="translation,cutout")
    augmented, seen = [], []
    real_augment = recipe.augment

    def spy_augment(x):
        out = real_augment(x)
        augmented.append(out)
        return out

    recipe.augment = spy_augment
    discriminator = recipe.discriminator
    recipe.discriminator = lambda x, y=None: (seen.append(x), discriminator(x, y))[1]
    batch = _batch(recipe)
    recipe.discriminator_phase(batch, 0)
    assert len(augmented) == 2 and all(any(a is s for s in seen) for a in augmented)  # real and fake
    assert not any(s is batch.x for s in seen)  # D never saw the raw batch
    augmented.clear(), seen.clear()
    loss, _ = recipe.generator_phase(batch, 0)
    assert len(augmented) == 2 and seen and all(any(s is a for a in augmented) for s in seen)
    loss.backward()  # G learns through the augmentation
    assert all(p.grad is not None for p in recipe.nets["generator"].parameters() if p.requires_grad)


def test_diffaugment_refuses_vector_data():
    with pytest.raises(GanforgeError, match="diffaugment"):
        _recipe(recipe="vanilla", data="toy-ring", diffaugment="color")


def test_instance_noise_is_annealed_over_training():
    recipe = _recipe(recipe="dcgan", instance_noise=0.5, steps=100)
    x = torch.zeros(4000, 1, 2, 2)
    assert recipe.discriminator_input(x, 0).std().item() == pytest.approx(0.5, rel=0.05)
    assert recipe.discriminator_input(x, 50).std().item() == pytest.approx(0.25, rel=0.05)
    assert recipe.discriminator_input(x, 100).abs().max().item() == 0


def test_lazy_r1_phase():
    # digits' dcgan default turns R1 on (configs/data/digits.yaml): 0 is off
    assert [p.name for p in _recipe(recipe="dcgan", r1_gamma=0.0).phases()] == ["D", "G"]
    recipe = _recipe(recipe="dcgan", r1_gamma=2.0, r1_interval=4)
    phases = {p.name: p for p in recipe.phases()}
    assert list(phases) == ["D", "D_reg", "G"] and phases["D_reg"].interval == 4
    assert phases["D_reg"].group == "discriminator"
    batch = _batch(recipe)
    recipe.nets["discriminator"].eval()  # same BN statistics for both evaluations
    loss, logs = phases["D_reg"].loss(batch, 0)
    expected = 0.5 * 2.0 * 4 * r1_penalty(recipe.discriminator, batch.x)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4) and logs["r1"].item() > 0


def test_clipping_after_critic_steps_only():
    recipe = _recipe(recipe="wgan")
    d, g = recipe.nets["discriminator"], recipe.nets["generator"]
    with torch.no_grad():
        for p in list(d.parameters()) + list(g.parameters()):
            p.fill_(0.5)
    recipe.after_step(Phase("G", "generator", recipe.generator_phase))
    assert max(p.abs().max().item() for p in d.parameters()) == 0.5
    recipe.after_step(Phase("D", "discriminator", recipe.discriminator_phase))
    assert max(p.abs().max().item() for p in d.parameters()) == pytest.approx(0.01)
    assert min(p.abs().min().item() for p in g.parameters()) == 0.5


def test_spectral_norm_from_config_and_gradient_penalty_logs():
    plain = _recipe(recipe="hinge")
    assert not hasattr(plain.nets["discriminator"].features[0], "parametrizations")
    recipe = _recipe(recipe="hinge", spectral_norm=True, gp_weight=1.0)
    layers = [m for m in recipe.nets["discriminator"].modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    assert not any(hasattr(m, "parametrizations") for m in recipe.nets["generator"].modules())
    loss, logs = recipe.discriminator_phase(_batch(recipe), 0)
    assert "gp" in logs and loss.dtype == torch.float32


def test_label_smoothing_sets_the_real_target():
    recipe = _recipe(recipe="dcgan", label_smoothing=0.2)
    assert recipe.real_target == pytest.approx(0.8)
    assert _recipe(recipe="dcgan").real_target == 1.0


def test_mode_seeking_pairs_labels_and_adds_the_term_to_the_generator_loss():
    recipe = _recipe(recipe="cgan", ms_weight=2.0)
    batch = _batch(recipe)
    fake, y, z = recipe.draw_fakes(16)
    assert torch.equal(y[:8], y[8:]) and z.shape == (16, 8) and not torch.equal(z[:8], z[8:])
    y = recipe.draw_fakes(7)[1]  # an odd batch: sample i + 4 pairs with sample i, the middle one is alone
    assert torch.equal(y[:3], y[4:])
    torch.manual_seed(0)
    recipe.discriminator_phase(batch, 0)  # hands its fakes (and their latents) to the G phase
    loss, logs = recipe.generator_phase(batch, 0)
    assert logs["ms_loss"].item() > 0
    assert loss.item() == pytest.approx(logs["g_loss"].item() + 2.0 * logs["ms_loss"].item(), rel=1e-5)
    plain = _recipe(recipe="cgan")
    assert plain.draw_fakes(16)[2] is None and "ms_loss" not in plain.generator_phase(batch, 0)[1]


def test_mode_seeking_refused_where_a_recipe_draws_its_own_fakes():
    from ganforge.train.setup import build_recipe

    assert _recipe(recipe="dcgan").supports_mode_seeking and not _recipe(recipe="infogan").supports_mode_seeking
    cfg = make_config({**SMALL, "recipe": "infogan", "ms_weight": 1.0})
    with pytest.raises(GanforgeError, match="ms-weight"):
        build_recipe(cfg, load_dataset(cfg))


def test_unknown_loss_fails_before_building():
    with pytest.raises(GanforgeError, match="unknown loss"):
        _recipe(recipe="dcgan", loss="hingee")


def test_bf16_training_with_penalties_stays_finite():
    from ganforge.train.trainer import Trainer

    cfg = make_config({**SMALL, "recipe": "wgan-gp", "architecture": "resnet", "n_critic": 1, "r1_gamma": 1.0,
                       "r1_interval": 1, "precision": "bf16"})
    with one_thread():
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg))
        trainer.train_step()
        trainer.train_step()
    logs = trainer.pop_logs()
    assert {"gp", "D_reg/r1"} <= set(logs) and all(torch.isfinite(torch.tensor(v)) for v in logs.values())


def test_nonsaturating_with_label_smoothing_and_instance_noise_covers_the_ring():
    trainer = train(recipe="vanilla", steps=800, label_smoothing=0.1, instance_noise=0.05, **{**TOY, "g_width": 64})
    report = mode_coverage(trainer)
    assert_learns_the_ring(report)
