"""ACGAN: auxiliary classifier head; samples are the requested digit."""
import pytest
import torch

from tests.recipes.learning import (DIGITS, assert_generates_the_requested_classes,
                                   assert_samples_a_class_and_refuses_a_missing_one, train)


@pytest.fixture(scope="module")
def trained():
    return train(recipe="acgan", steps=1000, **DIGITS)


def test_generates_the_requested_class(trained):
    assert_generates_the_requested_classes(trained)


def test_sampling_a_class_and_refusing_a_missing_one(trained):
    assert_samples_a_class_and_refuses_a_missing_one(trained)


def test_discriminator_returns_logits_and_class_logits(trained):
    D = trained.recipe.nets["discriminator"]
    logits, class_logits = D(torch.zeros(5, 1, 8, 8))
    assert logits.shape == (5,) and class_logits.shape == (5, 10)
    # The head learned the real classes.
    data = trained.dataset
    x = data.to_model(data.x[:500])
    D.eval()
    assert (D(x)[1].argmax(1) == data.y[:500]).float().mean() > 0.9
