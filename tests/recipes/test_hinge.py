"""Hinge GAN: the hinge objective learns the 8-mode ring."""
import pytest

from ganforge.config import make_config
from tests.recipes.learning import TOY, assert_learns_the_ring, mode_coverage, train


@pytest.fixture(scope="module")
def trained():
    return train(recipe="hinge", steps=800, **TOY)


def test_recipe_defaults():
    cfg = make_config({"recipe": "hinge"})
    assert cfg.loss == "hinge" and not cfg.spectral_norm

def test_covers_most_modes_of_the_ring(trained):
    report = mode_coverage(trained)
    assert_learns_the_ring(report)
