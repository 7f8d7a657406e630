"""WGAN: Wasserstein critic with weight clipping learns the 8-mode ring."""
import pytest

from ganforge.config import make_config
from tests.recipes.learning import TOY, mode_coverage, train


@pytest.fixture(scope="module")
def trained():
    return train(recipe="wgan", steps=300, **TOY)


def test_recipe_defaults():
    cfg = make_config({"recipe": "wgan"})
    assert (cfg.loss, cfg.clip_value, cfg.optimizer, cfg.lr_d, cfg.lr_g, cfg.n_critic) == ("wasserstein", 0.01, "rmsprop", 5e-5, 5e-5, 5)

def test_covers_most_modes_of_the_ring(trained):
    report = mode_coverage(trained)
    # An untrained generator sits near the origin, 1 away from every mode: 0 modes, quality 0.
    assert report["hit"] >= 6 and report["quality"] >= 0.01 and report["median_distance"] < 0.25, report


def test_critic_weights_stay_clipped(trained):
    for p in trained.recipe.nets["discriminator"].parameters():
        assert p.abs().max().item() <= 0.01 + 1e-7
