"""StyleGAN3 synthesis: the Fourier input moves exactly with its transform, the layer schedule is the
paper's, the magnitude EMA and the configuration-derived filters behave as buffers should."""
import math

import numpy as np
import pytest
import torch

from ganforge.metrics.equivariance import rotation_matrix
from ganforge.nets.stylegan3 import StyleGAN3Generator, SynthesisInput, layer_schedule


def fourier_input():
    torch.manual_seed(0)
    return SynthesisInput(w_dim=8, channels=6, size=12, sampling_rate=8, bandwidth=2).eval()


def test_translating_the_input_transform_shifts_the_features_by_whole_and_fractional_pixels():
    inp, w = fourier_input(), torch.randn(2, 8)
    with torch.no_grad():
        inp.affine.bias.copy_(torch.tensor([0.8, 0.6, 0.1, -0.05]))  # a learned rotation + translation as well
        base = inp(w)
        shift = torch.eye(3)
        shift[0, 2], shift[1, 2] = -3 / 8, -1 / 8  # the image moves by (3, 1) samples at rate 8
        moved = inp(w, shift)
    assert torch.allclose(moved[:, :, 1:, 3:], base[:, :, :-1, :-3], atol=1e-5)
    assert (moved - base).abs().max() > 0.1
    # Half a sample: the features are the continuous signal, so two half steps make one whole step.
    half = torch.eye(3)
    half[0, 2] = -0.5 / 8
    with torch.no_grad():
        twice = inp(w, half @ half)
    assert torch.allclose(twice[:, :, :, 1:], base[:, :, :, :-1], atol=1e-5)


def test_rotating_the_input_by_a_quarter_turn_rotates_the_sample_grid():
    inp, w = fourier_input(), torch.randn(2, 8)
    with torch.no_grad():
        base, turned = inp(w), inp(w, rotation_matrix(-math.pi / 2))
    assert torch.allclose(turned, torch.rot90(base, 1, (2, 3)), atol=1e-5)


def test_the_initial_input_transform_is_the_identity_for_any_w():
    inp = fourier_input()
    with torch.no_grad():
        a, b = inp(torch.randn(3, 8)), inp(torch.zeros(3, 8))
    assert torch.allclose(a, b)


def test_layer_schedule_is_the_papers_exponential_progression_with_critical_sampling_at_the_end():
    cutoffs, stopbands, rates, half_widths, sizes = layer_schedule(1024, num_layers=14, num_critical=2)
    assert cutoffs[0] == 2 and stopbands[0] == pytest.approx(2 ** 2.1)
    ratios = cutoffs[1:13] / cutoffs[:12]
    assert np.allclose(ratios, ratios[0]) and np.allclose(cutoffs[12:], 512)  # geometric, then f_c = res/2
    assert np.allclose(stopbands[12:], 512 * 2 ** 0.3)
    assert list(rates[-3:]) == [1024] * 3 and (np.diff(rates) >= 0).all()
    assert np.allclose(cutoffs[-3:], rates[-3:] / 2)  # critically sampled: the cutoff is at Nyquist
    assert (half_widths > 0).all()
    # The official 1024x1024 layer sizes (L0_36 ... L14_1024 in networks_stylegan3.py's layer names).
    assert list(sizes) == [36, 36, 52, 52, 84, 148, 148, 276, 276, 532, 1044, 1044, 1044, 1024, 1024]


@pytest.mark.parametrize("config", ["t", "r"])
def test_generator_shapes_magnitude_ema_and_checkpointed_state(config):
    torch.manual_seed(0)
    r = config == "r"
    g = StyleGAN3Generator(8, 8, 16, 3, 64 * (8 if r else 4), 4 * (8 if r else 4), num_layers=4, margin_size=2,
                           conv_kernel=1 if r else 3, radial=r)
    assert g.num_ws == 6 and len(g.synthesis.layers) == 5
    kernels = {layer.weight.shape[-1] for layer in g.synthesis.layers[:-1]}
    assert kernels == ({1} if r else {3})
    assert (g.synthesis.layers[0].down_filter.ndim == 2) == r  # radial only outside the critical layers
    assert g.synthesis.layers[-2].down_filter.ndim == 1
    g.eval()
    x = g(torch.randn(4, 8))
    assert x.shape == (4, 3, 16, 16) and torch.isfinite(x).all()
    assert all(float(layer.magnitude_ema) == 1.0 for layer in g.synthesis.layers)  # eval: no update
    g.train()
    g(torch.randn(4, 8))
    assert all(float(layer.magnitude_ema) != 1.0 for layer in g.synthesis.layers)
    state = g.state_dict()
    assert "synthesis.layers.0.magnitude_ema" in state and "synthesis.input.freqs" in state
    assert not any(k.endswith(("up_filter", "down_filter")) for k in state)  # derived from the config
