"""cGAN: label embedding concatenated in G and D; samples are the requested digit."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.sampling import generate
from tests.recipes.learning import DIGITS, class_agreement, train


@pytest.fixture(scope="module")
def trained():
    return train(recipe="cgan", steps=1000, **DIGITS)


def test_generates_the_requested_class(trained):
    agreement = class_agreement(trained)
    assert min(agreement) >= 0.9, [round(a, 2) for a in agreement]


def test_sampling_a_class_and_refusing_a_missing_one(trained):
    x, y = generate(trained.recipe, trained.ema.model, 8, labels=3)
    assert x.shape == (8, 1, 8, 8) and (y == 3).all()
    with pytest.raises(GanforgeError, match="does not exist"):
        generate(trained.recipe, trained.ema.model, 8, labels=10)


def test_both_networks_see_the_label(trained):
    G, D = trained.recipe.nets["generator"], trained.recipe.nets["discriminator"]
    assert G.embed is not None and D.embed is not None
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    assert not torch.allclose(D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)))
