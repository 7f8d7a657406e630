"""PacGAN packing (``--pack m``) and the minibatch standard deviation layer (``--mbstd-group G``)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import gradient_penalty, r1_penalty
from ganforge.nets.layers import MinibatchStdDev
from ganforge.nets.packing import PackedDiscriminator, check_packing, pack_samples
from ganforge.recipes import RECIPES
from ganforge.train.trainer import Trainer

QUIET = dict(sample_every=0, checkpoint_every=0, log_every=10**6, channels_last=False, device="cpu",
             collapse_warning=False)
TOY = dict(data="toy-ring", architecture="mlp", options={"n_samples": 512}, z_dim=4, g_width=16, d_width=16,
           batch_size=16, **QUIET)
DIGITS = dict(data="digits", g_width=8, d_width=8, z_dim=8, batch_size=16, **QUIET)


def _recipe(**overrides):
    cfg = make_config(overrides)
    return RECIPES.get(cfg.recipe)(cfg, load_dataset(cfg))


# -- packing ---------------------------------------------------------------------------------------
def test_pack_samples_puts_consecutive_samples_side_by_side():
    x = torch.arange(12.0).view(6, 2)
    assert pack_samples(x, 3).tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    images = torch.arange(4 * 3 * 2 * 2.0).view(4, 3, 2, 2)
    packed = pack_samples(images, 2)  # channels concatenated, as in the paper
    assert packed.shape == (2, 6, 2, 2)
    assert torch.equal(packed[1, :3], images[2]) and torch.equal(packed[1, 3:], images[3])
    with pytest.raises(GanforgeError, match="multiple of 3"):
        pack_samples(torch.zeros(4, 2), 3)


@pytest.mark.parametrize("architecture,data,first", [("mlp", "toy-ring", "Linear"), ("dcgan", "digits", "Conv2d"),
                                                      ("resnet", "digits", "Conv2d")])
def test_every_architecture_is_rebuilt_for_packs(architecture, data, first):
    base = TOY if data == "toy-ring" else DIGITS
    recipe = _recipe(**{**base, "architecture": architecture, "pack": 4, "recipe": "hinge"})
    d = recipe.nets["discriminator"]
    assert isinstance(d, PackedDiscriminator) and d.pack == 4
    layer = next(m for m in d.inner.modules() if type(m).__name__ == first)
    single = recipe.dataset.shape[0]
    assert (layer.in_features if first == "Linear" else layer.in_channels) == 4 * single
    x = recipe.fake(16)
    assert recipe.discriminator(x).shape == (4,)  # one logit per pack
    assert recipe.nets["generator"](torch.randn(2, recipe.cfg.z_dim)).shape[1:] == recipe.dataset.shape


def test_real_and_fake_packs_are_never_mixed():
    recipe = _recipe(**TOY, pack=4, recipe="vanilla")
    seen = []
    inner = recipe.nets["discriminator"].inner
    inner.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    from ganforge.data import BatchSampler

    batch = BatchSampler(recipe.dataset, 16, seed=0).next()
    recipe.discriminator_phase(batch, 0)
    real_packs, fake_packs = seen
    assert torch.equal(real_packs, batch.x.reshape(4, 8))  # the real batch, 4 consecutive rows per pack
    assert not any(torch.isclose(fake_packs, row).all(1).any() for row in real_packs)


def test_bad_pack_settings_are_refused_clearly():
    with pytest.raises(GanforgeError, match="multiple of 4"):
        make_config({**TOY, "pack": 4, "batch_size": 30})
    with pytest.raises(GanforgeError, match="positive integer"):
        make_config({**TOY, "pack": 0})
    with pytest.raises(GanforgeError, match="class-conditional"):
        _recipe(**DIGITS, recipe="cgan", pack=2)
    cfg = make_config({**TOY, "pack": 2})
    with pytest.raises(GanforgeError, match="does not take --pack"):
        check_packing(cfg, nn.Linear(2, 1))  # e.g. tabular-gan's own discriminator
    plain = make_config({**TOY, "recipe": "hinge"})
    assert plain.pack == 1 and plain.mbstd_group == 0  # both off by default


class LinearCritic(nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x, y=None):
        return x.flatten(1) @ self.weight


def test_gradient_penalty_interpolates_and_measures_whole_packs():
    # A linear critic on packs of 2 two-dimensional samples: grad wrt a pack = w, |w| = 1 -> GP = 0.
    w = torch.tensor([0.5, 0.5, 0.5, 0.5])
    critic = PackedDiscriminator(LinearCritic(w), 2)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert gradient_penalty(critic, real, fake, pack=2).item() == pytest.approx(0.0, abs=1e-12)
    # Per sample (the unpacked formula) each half-gradient has norm 1/sqrt(2): a wrong, non-zero penalty.
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((1 / math.sqrt(2) - 1) ** 2)
    seen = []
    spy = PackedDiscriminator(LinearCritic(w), 2)
    spy.inner.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    gradient_penalty(spy, torch.ones(8, 2), torch.zeros(8, 2), pack=2)
    eps = seen[0]  # x_hat = eps * 1 + (1 - eps) * 0: every coordinate of a pack shares its eps
    assert torch.allclose(eps, eps[:, :1].expand_as(eps)) and eps[:, 0].unique().numel() == 4


def test_r1_is_the_squared_gradient_norm_per_pack():
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    critic = PackedDiscriminator(LinearCritic(w), 2)
    assert r1_penalty(critic, torch.randn(6, 2), pack=2).item() == pytest.approx(30.0)


@pytest.mark.parametrize("overrides", [
    dict(recipe="wgan-gp", n_critic=1, pack=2),                   # GP on packs
    dict(recipe="hinge", r1_gamma=1.0, r1_interval=2, pack=4),    # lazy R1 on packs
    dict(recipe="dcgan", pack=2, mbstd_group=4),                  # packing and minibatch stddev together
])
def test_training_steps_run_with_packing(overrides):
    torch.set_num_threads(1)
    trainer = Trainer(make_config({**TOY, "steps": 3, **overrides}), run_dir=None)
    trainer.fit()
    assert trainer.step == 3 and trainer.weights_finite()


def test_image_recipe_trains_with_packing_and_mbstd():
    trainer = Trainer(make_config({**DIGITS, "recipe": "dcgan", "steps": 2, "pack": 2, "mbstd_group": 4}),
                      run_dir=None)
    trainer.fit()
    assert trainer.step == 2 and trainer.weights_finite()


# -- minibatch standard deviation ---------------------------------------------------------------------
def test_minibatch_stddev_by_hand():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0], [1.0, 1.0]])
    out = MinibatchStdDev(group_size=2, eps=0.0)(x)
    # Groups are strided (ProGAN): {0, 2} and {1, 3}. Group {0, 2}: stds (1, 2) -> 1.5; group {1, 3}: 0.
    assert out.shape == (4, 3) and torch.equal(out[:, :2], x)
    assert out[:, 2].tolist() == [1.5, 0.0, 1.5, 0.0]
    images = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(4)(images)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], images)
    assert (out[:, 3] == out[:, 3, :1, :1]).all()  # one constant map per sample
    group = images[[1, 3, 5, 7]]  # sample 1's group (M = 2)
    expected = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
    assert out[1, 3, 0, 0].item() == pytest.approx(expected.item(), rel=1e-5)
    # A batch size the group does not divide uses the largest dividing group size (no crash).
    assert MinibatchStdDev(4)(torch.randn(6, 2)).shape == (6, 3)
    # A collapsed batch gets ~0: what the discriminator learns to reject.
    assert MinibatchStdDev(4)(torch.ones(8, 5))[:, 5].max().item() < 1e-3


@pytest.mark.parametrize("architecture,data", [("mlp", "toy-ring"), ("dcgan", "digits"), ("resnet", "digits")])
def test_mbstd_option_adds_the_layer_to_every_discriminator(architecture, data):
    base = TOY if data == "toy-ring" else DIGITS
    recipe = _recipe(**{**base, "architecture": architecture, "mbstd_group": 4, "recipe": "hinge"})
    d = recipe.nets["discriminator"]
    assert sum(isinstance(m, MinibatchStdDev) for m in d.modules()) == 1
    assert recipe.discriminator(recipe.fake(16)).shape == (16,)
    off = _recipe(**{**base, "architecture": architecture, "recipe": "hinge"})
    assert not any(isinstance(m, MinibatchStdDev) for m in off.nets["discriminator"].modules())
