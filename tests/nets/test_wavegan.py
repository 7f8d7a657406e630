"""WaveGAN's 1-D networks: the paper's shapes, phase shuffle, conditioning."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.nets.wavegan import WaveGANDiscriminator, WaveGANGenerator, layers_for, phase_shuffle


def test_paper_shapes_at_16384_samples():
    # d=64 (the paper): five stride-4 transposed convolutions with kernel 25 from a (1024, 16) seed
    g = WaveGANGenerator(z_dim=100, d=64, length=16384)
    assert [c.kernel_size[0] for c in g.convs] == [25] * 5 and [c.stride[0] for c in g.convs] == [4] * 5
    assert [c.in_channels for c in g.convs] == [1024, 512, 256, 128, 64] and g.dense.out_features == 16 * 1024
    small_g, small_d = WaveGANGenerator(100, 4, 16384), WaveGANDiscriminator(4, 16384)
    x = small_g(torch.rand(3, 100) * 2 - 1)
    assert x.shape == (3, 1, 16384) and x.abs().max() <= 1  # tanh output
    assert small_d(x).shape == (3,)
    assert [c.out_channels for c in small_d.convs] == [4, 8, 16, 32, 64]


def test_shorter_clips_drop_layers_and_odd_lengths_are_refused():
    assert (layers_for(16384), layers_for(4096), layers_for(1024)) == (5, 4, 3)
    with pytest.raises(GanforgeError, match="16 \\* 4\\^k"):
        layers_for(16000)


def test_phase_shuffle_shifts_by_at_most_n_with_reflection():
    x = torch.arange(20.0).view(1, 1, 20).repeat(2, 3, 1)
    seen = set()
    for seed in range(40):
        torch.manual_seed(seed)
        y = phase_shuffle(x, 2)
        assert y.shape == x.shape
        shift = int(x[0, 0, 10] - y[0, 0, 10])
        seen.add(shift)
        assert torch.equal(y[..., 2:-2], x[..., 2 - shift:18 - shift])  # one shift for the whole batch
    assert seen == {-2, -1, 0, 1, 2}
    torch.manual_seed(0)
    assert torch.equal(phase_shuffle(x, 0), x)
    d = WaveGANDiscriminator(4, 1024, phase_shuffle=2).eval()  # no shuffle at evaluation: deterministic scores
    clip = torch.randn(2, 1, 1024)
    assert torch.equal(d(clip), d(clip))


def test_conditional_networks_use_the_label():
    torch.manual_seed(0)
    g, d = WaveGANGenerator(16, 4, 1024, num_classes=10), WaveGANDiscriminator(4, 1024, num_classes=10).eval()
    z = torch.rand(2, 16)
    a, b = g(z, torch.tensor([1, 1])), g(z, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)
    assert not torch.allclose(d(a, torch.tensor([1, 1])), d(a, torch.tensor([2, 2])))
    with pytest.raises(GanforgeError, match="--class"):
        g(z)


def test_auxiliary_classifier_discriminator_is_label_blind():
    torch.manual_seed(0)
    d = WaveGANDiscriminator(4, 1024, num_classes=10, conditioning="aux").eval()
    x = torch.randn(3, 1, 1024)
    score, classes = d.classify(x)
    assert classes.shape == (3, 10) and d.embed is None
    # the critic score ignores the label (the gradient penalty still passes one) and is classify's score
    assert torch.equal(d(x, torch.tensor([1, 2, 3])), d(x)) and torch.equal(score, d(x))
    with pytest.raises(GanforgeError, match="auxiliary classifier"):
        WaveGANDiscriminator(4, 1024, num_classes=10).classify(x)
    with pytest.raises(GanforgeError, match="conditioning 'concat' is unknown"):
        WaveGANDiscriminator(4, 1024, num_classes=10, conditioning="concat")
