"""ProGAN / StyleGAN layers: equalised learning rate, pixel norm, fade-in of both networks, the style
generator's mixing and truncation."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.nets.progan import EqualizedConv2d, EqualizedLinear, PixelNorm, ProDiscriminator, ProGenerator
from ganforge.nets.stylegan import StyleGenerator


def test_equalized_layers_draw_unit_weights_and_scale_them_by_he_at_run_time():
    torch.manual_seed(0)
    linear, conv = EqualizedLinear(256, 512), EqualizedConv2d(64, 128, 3)
    assert linear.weight.std().item() == pytest.approx(1.0, rel=0.02)
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.02)
    assert linear.scale == pytest.approx(math.sqrt(2) / 16) and conv.scale == pytest.approx(math.sqrt(2) / 24)
    x = torch.randn(4, 256)
    assert torch.allclose(linear(x), x @ (linear.weight * linear.scale).t() + linear.bias)
    img = torch.randn(2, 64, 5, 5)
    assert torch.allclose(conv(img), F.conv2d(img, conv.weight * conv.scale, conv.bias, padding=1), atol=1e-5)


def test_equalized_lr_gives_every_layer_the_same_relative_step_whatever_its_fan_in():
    """The point of §4.1: Adam's step is ~lr on the raw (unit-scale) weights, so the effective weights of
    a wide and a narrow layer move by the same fraction of their scale (lr_mult: lr * lr_mult)."""
    torch.manual_seed(0)
    relative = []
    for fan_in, lr_mult in ((16, 1.0), (1024, 1.0), (1024, 0.01)):
        layer = EqualizedLinear(fan_in, 32, lr_mult=lr_mult)
        before = (layer.weight * layer.scale).detach().clone()
        opt = torch.optim.Adam(layer.parameters(), lr=0.01)
        layer(torch.randn(8, fan_in)).pow(2).sum().backward()
        opt.step()
        change = ((layer.weight * layer.scale).detach() - before).abs().mean()
        relative.append((change / before.std()).item())
    assert relative[0] == pytest.approx(relative[1], rel=0.1) and relative[0] == pytest.approx(0.01, rel=0.2)
    assert relative[2] == pytest.approx(0.01 * relative[1], rel=0.1)


def test_pixel_norm_gives_each_pixel_unit_mean_square_over_channels():
    x = torch.randn(3, 16, 4, 4) * torch.rand(3, 1, 4, 4) * 10
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(3, 4, 4), atol=1e-4)
    assert torch.allclose(PixelNorm()(5 * x), y, atol=1e-5)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return ProGenerator(8, 3, 16, fmap_base=64, fmap_max=16), ProDiscriminator(3, 16, fmap_base=64, fmap_max=16)


def test_generator_fade_in_interpolates_the_upsampled_low_resolution_output_and_the_new_block(nets):
    g, _ = nets
    z = torch.randn(4, 8)
    low = F.interpolate(g(z, level=1), scale_factor=2, mode="nearest")  # the 8x8 output, upsampled
    high = g(z, level=2, alpha=1.0)                                     # the new 16x16 block
    assert g(z, level=1).shape[-1] == 8 and high.shape[-1] == 16
    assert torch.allclose(g(z, level=2, alpha=0.0), low, atol=1e-6)
    assert torch.allclose(g(z, level=2, alpha=0.3), 0.7 * low + 0.3 * high, atol=1e-5)
    assert not torch.allclose(low, high, atol=1e-3)


def test_discriminator_fade_in_mirrors_it_with_average_pooling(nets):
    _, d = nets
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(d(x, level=2, alpha=0.0), d(F.avg_pool2d(x, 2), level=1), atol=1e-5)
    assert not torch.allclose(d(x, level=2, alpha=0.5), d(x, level=2, alpha=0.0), atol=1e-4)
    assert d(x).shape == (4,)


def test_style_generator_truncation_mixing_and_mean_w():
    torch.manual_seed(0)
    g = StyleGenerator(8, 8, 1, 8, fmap_base=32, fmap_max=8, mapping_layers=2).eval()
    g.w_avg.normal_()
    for layer in g.synthesis.styled:  # noise strengths start at 0: make the noise visible
        layer.noise_strength.data.fill_(0.5)
    z = torch.randn(5, 8)
    same = g(z, noise="const", psi=0.0)
    assert torch.allclose(same, same[:1].expand_as(same), atol=1e-5)            # psi 0: w_avg for every z
    assert not torch.allclose(g(z, noise="const"), same, atol=1e-3)              # psi 1: untruncated
    assert torch.equal(g(z, noise="const"), g(z, noise="const"))                 # const noise: reproducible
    assert not torch.equal(g(z), g(z))                                           # training noise: fresh
    other = torch.randn(5, 8)
    assert torch.allclose(g(z, noise="const", mix_z=other, mix_cutoff=g.num_layers), g(z, noise="const"))
    assert torch.allclose(g(z, noise="const", mix_z=other, mix_cutoff=0), g(other, noise="const"))
    before = g.w_avg.clone()
    g(z, w_avg_beta=0.5)
    assert torch.allclose(g.w_avg, before.lerp(g.mapping(z).mean(0), 0.5), atol=1e-5)
