"""The objective zoo: every loss pushes real scores up and fake scores down, with known optima."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES, discriminator_loss, generator_loss

ALL = ["nonsaturating", "minimax", "wasserstein", "hinge", "lsgan", "ragan"]


def test_every_objective_is_registered_with_a_cited_docstring():
    assert set(ALL) <= set(LOSSES.names())
    for name in ALL:
        obj = LOSSES.get(name)
        doc = obj.discriminator.__doc__ or ""
        assert "20" in doc and ("E[" in doc or "log" in doc), name  # a year (paper) and a formula


@pytest.mark.parametrize("name", ALL)
def test_gradient_directions(name):
    torch.manual_seed(0)
    # Scores in (0.1, 0.9): inside the hinge margins and between the LSGAN targets (0 and 1).
    real = (0.1 + 0.8 * torch.rand(64)).requires_grad_(True)
    fake = (0.1 + 0.8 * torch.rand(64)).requires_grad_(True)
    discriminator_loss(name, real, fake).backward()
    # D descends: real scores go up, fake scores go down (hinge: only inside the margin, true here).
    assert (real.grad <= 0).all() and (real.grad < 0).any()
    assert (fake.grad >= 0).all() and (fake.grad > 0).any()
    fake2 = fake.detach().clone().requires_grad_(True)
    generator_loss(name, fake2, real.detach()).backward()
    assert (fake2.grad <= 0).all() and (fake2.grad < 0).any()  # G raises its fakes' scores


def test_known_values():
    r, f = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert discriminator_loss("wasserstein", r, f).item() == pytest.approx(-0.5 - 2.5)
    assert generator_loss("wasserstein", f).item() == pytest.approx(0.5)
    assert discriminator_loss("hinge", r, torch.tensor([-1.0, -2.0])).item() == 0.0
    assert discriminator_loss("hinge", torch.zeros(2), torch.zeros(2)).item() == pytest.approx(2.0)
    assert discriminator_loss("lsgan", torch.ones(3), torch.zeros(3)).item() == 0.0
    assert generator_loss("lsgan", torch.ones(3)).item() == 0.0
    assert generator_loss("lsgan", torch.zeros(3)).item() == pytest.approx(0.5)
    # RaGAN only sees differences: shifting every score by a constant changes nothing.
    r, f = torch.randn(8), torch.randn(8)
    assert discriminator_loss("ragan", r + 5, f + 5).item() == pytest.approx(discriminator_loss("ragan", r, f).item(), rel=1e-5)


def test_ragan_generator_needs_real_logits():
    with pytest.raises(GanforgeError, match="real_logits"):
        generator_loss("ragan", torch.randn(4))
    assert LOSSES.get("ragan").needs_real_for_generator
    assert not LOSSES.get("hinge").needs_real_for_generator


@pytest.mark.parametrize("name", ALL)
def test_losses_are_fp32_for_bf16_logits(name):
    r, f = torch.randn(16).bfloat16(), torch.randn(16).bfloat16()
    assert discriminator_loss(name, r, f).dtype == torch.float32
    assert generator_loss(name, f, r).dtype == torch.float32


def test_unknown_loss_names_the_choices():
    with pytest.raises(GanforgeError, match="hinge"):
        LOSSES.get("hinj")
