"""StyleGAN2 networks: demodulation, the non-fused modulated conv, shapes, truncation and mixing inputs."""
import torch
import torch.nn.functional as F

from ganforge.nets.stylegan2 import ModulatedConv2d, StyleGAN2Discriminator, StyleGAN2Generator, upsample2x


def test_demodulation_normalises_each_output_feature_map():
    torch.manual_seed(0)
    conv = ModulatedConv2d(16, 8, 3, w_dim=12)
    styles = torch.randn(4, 16).abs() * 3 + 0.1
    w = conv.modulated_weight(styles)  # (N, out, in, k, k)
    norms = w.square().sum(dim=(2, 3, 4))
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)
    # Without demodulation the norms follow the styles (the check above is not vacuous).
    conv.demodulate = False
    assert not torch.allclose(conv.modulated_weight(styles).square().sum(dim=(2, 3, 4)), torch.ones(4, 8), atol=0.1)


def test_modulated_conv_equals_a_per_sample_grouped_conv_and_keeps_unit_variance():
    torch.manual_seed(0)
    conv = ModulatedConv2d(16, 8, 3, w_dim=12)
    x, latent = torch.randn(4, 16, 10, 10), torch.randn(4, 12)
    weight = conv.modulated_weight(conv.affine(latent))
    grouped = F.conv2d(x.reshape(1, 64, 10, 10), weight.reshape(32, 16, 3, 3), padding=1, groups=4).reshape(4, 8, 10, 10)
    out = conv(x, latent)
    assert torch.allclose(out, grouped, atol=1e-4)
    assert 0.7 < out[:, :, 1:-1, 1:-1].std() < 1.3  # demodulation: unit-variance in, unit-variance out


def test_upsample_is_the_paper_fir_filter_away_from_the_border():
    x = torch.randn(1, 1, 6, 6)
    up = torch.zeros(1, 1, 12, 12)
    up[..., ::2, ::2] = x
    k = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64 * 4
    fir = F.conv2d(F.pad(up, [2, 1, 2, 1]), k[None, None])
    assert torch.allclose(upsample2x(x)[..., 2:-2, 2:-2], fir[..., 2:-2, 2:-2], atol=1e-5)


def test_shapes_truncation_and_mixing_inputs():
    torch.manual_seed(0)
    g = StyleGAN2Generator(16, 16, 16, 3, width=4, num_classes=3)
    d = StyleGAN2Discriminator(16, 3, width=4, num_classes=3)
    z, y = torch.randn(4, 16), torch.tensor([0, 1, 2, 0])
    assert g.num_ws == 6
    img, ws = g(z, y, return_ws=True)
    assert img.shape == (4, 3, 16, 16) and ws.shape == (4, 6, 16)
    assert d(img, y).shape == (4,)
    g.eval()
    g.mapping.w_avg.normal_()
    at_mean = g.styles(z, y, psi=0.0)
    assert torch.equal(at_mean, g.mapping.w_avg.expand_as(at_mean))
    assert torch.allclose(g.styles(z, y, psi=1.0), g.styles(z, y))
    mixed = g(z, y, mix=(torch.randn(4, 16), 2), return_ws=True)[1]
    assert torch.equal(mixed[:, :2], g.styles(z, y)[:, :2]) and not torch.equal(mixed[:, 2:], g.styles(z, y)[:, 2:])


def test_w_avg_tracks_the_mean_w_while_training_only():
    g = StyleGAN2Generator(8, 8, 8, 1, width=4)
    g.train()
    g(torch.randn(16, 8))
    assert g.mapping.w_avg.abs().sum() > 0
    before = g.mapping.w_avg.clone()
    g.eval()
    g(torch.randn(16, 8))
    assert torch.equal(before, g.mapping.w_avg)
