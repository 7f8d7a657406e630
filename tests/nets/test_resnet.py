"""The SNGAN-style ResNet pair: sizes, conditioning modes, and that it is a real residual network."""
import types

import pytest
import torch

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import apply_spectral_norm
from ganforge.nets import ARCHITECTURES
from ganforge.nets.conditional import ConditionalBatchNorm2d


def _data(size, channels=1, kind="image"):
    return types.SimpleNamespace(kind=kind, shape=(channels, size, size), name="fake-data")


@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3), (64, 3)])
def test_shapes_for_supported_sizes(size, channels):
    cfg = Config(z_dim=16, g_width=8, d_width=8)
    G, D = ARCHITECTURES.get("resnet")(cfg, _data(size, channels))
    x = G(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size) and x.abs().max() <= 1
    assert D(x).shape == (3,)


def test_conditioning_modes():
    cfg = Config(z_dim=16, g_width=8, d_width=8)
    y = torch.tensor([0, 3, 9])
    G, D = ARCHITECTURES.get("resnet")(cfg, _data(32, 3), 10, "aux")
    logits, class_logits = D(G(torch.randn(3, 16), y), y)
    assert logits.shape == (3,) and class_logits.shape == (3, 10)
    G, D = ARCHITECTURES.get("resnet")(cfg, _data(32, 3), 10, "projection")
    assert any(isinstance(m, ConditionalBatchNorm2d) for m in G.modules())
    x = G(torch.randn(3, 16), y)
    # The projection term makes the score depend on the label.
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
    G, D = ARCHITECTURES.get("resnet")(cfg, _data(32, 3), 10, "concat")
    z = torch.randn(3, 16)
    G.eval()
    assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))
    with pytest.raises(GanforgeError, match="labels"):
        G(z)


def test_discriminator_is_gradient_friendly_and_takes_spectral_norm():
    cfg = Config(z_dim=16, g_width=8, d_width=8)
    _, D = ARCHITECTURES.get("resnet")(cfg, _data(32, 3))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())  # GP-safe: per-sample outputs
    apply_spectral_norm(D)
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    D(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_refuses_vector_data_and_odd_sizes():
    with pytest.raises(GanforgeError, match="mlp"):
        ARCHITECTURES.get("resnet")(Config(), _data(8, kind="vector"))
    with pytest.raises(GanforgeError, match="image-size"):
        ARCHITECTURES.get("resnet")(Config(), _data(30))
