"""Perceptual path length: exact on a linear generator, and runs on the FID Inception's features."""
import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.ppl import feature_network, perceptual_path_length, slerp
from ganforge.nets.stylegan2 import StyleGAN2Generator


class LinearStyleGenerator(nn.Module):
    """w = z; image = w @ A: the path length of a lerp in w is exactly ||(w1 - w0) A||^2."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.a, self.z_dim = nn.Parameter(a), a.shape[0]

    def styles(self, z, y=None):
        return z[:, None].repeat(1, 2, 1)

    def forward(self, z, y=None, ws=None, noise_mode="random"):
        return (ws.mean(dim=1) @ self.a).view(len(ws), 1, 2, -1)


def test_ppl_of_a_linear_generator_is_its_squared_directional_derivative():
    torch.manual_seed(0)
    a = torch.randn(4, 8) * 0.1
    gen = LinearStyleGenerator(a)
    got = perceptual_path_length(gen, lambda x: x.flatten(1), num_samples=200, normalize=False, batch_size=50)
    g = torch.Generator().manual_seed(0)  # the same draws as the metric: z pairs per batch, then t
    d = []
    for _ in range(4):
        z = torch.randn(100, 4, generator=g)
        torch.rand(50, 1, generator=g)
        d.append(((z[50:] - z[:50]) @ a).square().sum(dim=1))
    d = torch.cat(d).double()
    lo, hi = d.quantile(0.01, interpolation="lower"), d.quantile(0.99, interpolation="higher")
    assert got == pytest.approx(float(d[(d >= lo) & (d <= hi)].mean()), rel=2e-2)
    # A generator that ignores its latent has path length 0.
    assert perceptual_path_length(LinearStyleGenerator(torch.zeros(4, 8)), lambda x: x.flatten(1),
                                  num_samples=20, normalize=False) == 0.0


def test_slerp_ends_and_bad_arguments():
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.allclose(slerp(a, b, torch.zeros(3, 1)), a / a.norm(dim=1, keepdim=True), atol=1e-5)
    assert torch.allclose(slerp(a, b, torch.ones(3, 1)), b / b.norm(dim=1, keepdim=True), atol=1e-5)
    with pytest.raises(GanforgeError, match="space"):
        perceptual_path_length(LinearStyleGenerator(torch.zeros(4, 8)), lambda x: x, space="q")
    with pytest.raises(GanforgeError, match="unknown PPL feature"):
        feature_network("vgg")


def test_ppl_on_inception_features_of_a_stylegan2_generator(inception_torchscript):
    torch.manual_seed(0)
    gen = StyleGAN2Generator(8, 8, 8, 3, width=4)
    features = feature_network("inception", inception_weights=str(inception_torchscript))
    value = perceptual_path_length(gen, features, num_samples=4, space="z", sampling="full")
    assert value > 0 and value == value
