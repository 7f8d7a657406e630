"""cGAN: label embedding concatenated in G and D; samples are the requested digit."""
import pytest
import torch

from tests.recipes.learning import (DIGITS, assert_generates_the_requested_classes,
                                   assert_samples_a_class_and_refuses_a_missing_one, train)


@pytest.fixture(scope="module")
def trained():
    return train(recipe="cgan", steps=1000, **DIGITS)


def test_generates_the_requested_class(trained):
    assert_generates_the_requested_classes(trained)


def test_sampling_a_class_and_refusing_a_missing_one(trained):
    assert_samples_a_class_and_refuses_a_missing_one(trained)


def test_both_networks_see_the_label(trained):
    G, D = trained.recipe.nets["generator"], trained.recipe.nets["discriminator"]
    assert G.embed is not None and D.embed is not None
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    assert not torch.allclose(D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)))
