"""ACGAN: auxiliary classifier head; samples are the requested digit."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.sampling import generate
from tests.recipes.learning import DIGITS, class_agreement, train


@pytest.fixture(scope="module")
def trained():
    return train(recipe="acgan", steps=1000, **DIGITS)


def test_generates_the_requested_class(trained):
    agreement = class_agreement(trained)
    assert min(agreement) >= 0.9, [round(a, 2) for a in agreement]


def test_sampling_a_class_and_refusing_a_missing_one(trained):
    x, y = generate(trained.recipe, trained.ema.model, 8, labels=3)
    assert x.shape == (8, 1, 8, 8) and (y == 3).all()
    with pytest.raises(GanforgeError, match="does not exist"):
        generate(trained.recipe, trained.ema.model, 8, labels=10)


def test_discriminator_returns_logits_and_class_logits(trained):
    D = trained.recipe.nets["discriminator"]
    logits, class_logits = D(torch.zeros(5, 1, 8, 8))
    assert logits.shape == (5,) and class_logits.shape == (5, 10)
    # The head learned the real classes.
    data = trained.dataset
    x = data.to_model(data.x[:500])
    D.eval()
    assert (D(x)[1].argmax(1) == data.y[:500]).float().mean() > 0.9
