"""ADA: the augmentation pipeline (identity at p=0, each op with its probability, differentiable) and
the adaptive p (up when D overfits, down otherwise, at the paper's speed; state round-trips)."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses.ada import AdaptiveAugment, augment, check_pipeline


def test_p_zero_is_the_identity_and_p_one_augments_every_image():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert torch.equal(augment(x, 0.0, check_pipeline("bgc")), x)
    out = augment(x, 1.0, check_pipeline("bgc"))
    assert out.shape == x.shape and ((out - x).flatten(1).abs().amax(dim=1) > 1e-3).all()


def test_xflip_alone_flips_or_keeps_each_image():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8)
    out = augment(x, 1.0, {"xflip": 1.0})
    same = (out - x).flatten(1).abs().amax(dim=1) < 1e-5
    flipped = (out - x.flip(-1)).flatten(1).abs().amax(dim=1) < 1e-5
    assert (same | flipped).all() and same.any() and flipped.any()


def test_grey_images_and_gradients_flow_through_the_pipeline():
    x = (torch.rand(4, 1, 16, 16) * 2 - 1).requires_grad_(True)
    out = augment(x, 1.0, check_pipeline("bgc"))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0


def test_p_rises_when_d_overfits_and_falls_otherwise():
    ada = AdaptiveAugment("bgc", target=0.6, ada_kimg=1, interval=4, batch_size=25)  # 0.1 per adjustment
    for _ in range(8):
        ada.observe(torch.tensor(0.9))  # r_t = 0.9 > 0.6: D too sure of the reals
    assert ada.p == pytest.approx(0.2) and ada.last_rt == pytest.approx(0.9)
    for _ in range(4):
        ada.observe(torch.tensor(0.2))
    assert ada.p == pytest.approx(0.1)
    for _ in range(12):
        ada.observe(torch.tensor(-1.0))
    assert ada.p == 0.0  # never negative
    for _ in range(3):  # no adjustment before `interval` observations
        ada.observe(torch.tensor(1.0))
    assert ada.p == 0.0
    restored = AdaptiveAugment("bgc", target=0.6, ada_kimg=1, interval=4, batch_size=25)
    restored.load_state_dict(ada.state_dict())
    restored.observe(torch.tensor(1.0)), ada.observe(torch.tensor(1.0))
    assert restored.p == ada.p == pytest.approx(0.1)


def test_bad_settings_are_clear_errors():
    with pytest.raises(GanforgeError, match="unknown ADA pipeline"):
        AdaptiveAugment("xyz")
    with pytest.raises(GanforgeError, match="ada_target"):
        AdaptiveAugment("bgc", target=1.5)
