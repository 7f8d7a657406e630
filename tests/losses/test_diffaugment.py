"""DiffAugment: differentiable, shape-preserving, really augments, refuses bad policies."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses.diffaugment import DiffAugment, cutout, parse_policy, translation

POLICY = "color,translation,cutout"


def test_every_op_is_differentiable_in_the_image():
    torch.manual_seed(0)
    for policy in ("color", "translation", "cutout", POLICY):
        x = torch.rand(8, 3, 16, 16, requires_grad=True)
        out = DiffAugment(policy)(x)
        assert out.shape == x.shape
        (out * torch.randn_like(out)).sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0, policy


def test_translation_shifts_content_and_cutout_blanks_a_square():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) + 1.0  # strictly positive: zeros can only come from the ops
    moved = translation(x)
    assert (moved == 0).any()  # vacated border filled with zeros
    assert not torch.equal(moved, x)
    holes = (cutout(x) == 0).flatten(1).sum(1)
    assert holes.max() <= 8 * 8 and holes.min() > 0  # at most a ratio-0.5 square, clipped at borders


def test_per_sample_randomness_and_same_policy_for_every_input():
    torch.manual_seed(0)
    aug = DiffAugment(POLICY)
    assert aug.ops == ("color", "translation", "cutout")
    x = torch.rand(1, 3, 8, 8).repeat(16, 1, 1, 1)
    out = aug(x)
    assert len({tuple(o.flatten().tolist()) for o in out}) > 1  # each sample draws its own parameters


def test_policies_are_validated():
    assert parse_policy("") == () and not DiffAugment("")
    assert parse_policy(" color , cutout ") == ("color", "cutout")
    with pytest.raises(GanforgeError, match="unknown DiffAugment op 'colour'"):
        parse_policy("colour")
    with pytest.raises(GanforgeError, match="images"):
        DiffAugment("color")(torch.randn(4, 2))
    x = torch.randn(4, 2)
    assert DiffAugment("")(x) is x
