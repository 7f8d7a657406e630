import importlib.util

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator, spatial_plan
from tests.conftest import SHARED


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    g, d = DCGANGenerator(16, channels, size, width=8), DCGANDiscriminator(channels, size, width=8)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, channels, size, size) and x.abs().max() <= 1
    assert d(x).shape == (4,)


def test_conditional_shapes():
    g, d = DCGANGenerator(16, 1, 28, 8, num_classes=10), DCGANDiscriminator(1, 28, 8, num_classes=10)
    y = torch.arange(4)
    assert d(g(torch.randn(4, 16), y), y).shape == (4,)


@pytest.mark.parametrize("size", [30, 48, 3, 100])
def test_impossible_sizes_are_refused(size):
    with pytest.raises(GanforgeError, match="cannot produce"):
        spatial_plan(size)


def test_64px_width_64_is_the_classic_dcgan():
    """Same layers and parameter count as the peer benchmark's (PyTorch example) DCGAN."""
    path = SHARED / "bench" / "peer_dcgan.py"
    if not path.is_file():
        pytest.skip("peer_dcgan.py not found")
    spec = importlib.util.spec_from_file_location("peer_dcgan", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    ours_g, ours_d = DCGANGenerator(100, 1, 64, 64), DCGANDiscriminator(1, 64, 64)
    peer_g, peer_d = peer.generator(100, 64, 1), peer.discriminator(64, 1)
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(ours_g) == shapes(peer_g)
    assert shapes(ours_d) == shapes(peer_d)
