"""StyleGAN: bit-exact resume inside a fade-in (mixing draws, noise and the tracked mean w included),
truncation and mixing knobs of a trained run, fixed-resolution training, learning Fashion-MNIST (8x8)."""
from __future__ import annotations

import pytest
import torch

import ganforge
from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.train.trainer import Trainer
from tests.recipes.learning import one_thread
from tests.recipes.progressive import checkpoint, learn_fashion_mnist_at_8x8, tiny


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stylegan")
    with one_thread():
        Trainer(tiny("stylegan", root / "a"), callbacks=[]).fit()
        Trainer(tiny("stylegan", root / "b", steps=7), callbacks=[]).fit()
        mid = checkpoint(root / "b")[1]
        Trainer(tiny("stylegan", root / "b"), callbacks=[], resume=True).fit()
    return root, mid


def test_recipe_defaults():
    cfg = make_config({"recipe": "stylegan"})
    assert (cfg.r1_gamma, cfg.lr_g, cfg.beta1, cfg.beta2, cfg.mbstd_group) == (10.0, 1e-3, 0.0, 0.99, 4)
    assert make_config({"recipe": "stylegan", "data": "fashion-mnist"}).image_size == 32
    with pytest.raises(GanforgeError, match="loss 'hinge' is unknown"):
        Trainer(make_config({"recipe": "stylegan", "options": {"loss": "hinge"}}), run_dir=None, callbacks=[])


def test_resume_inside_a_fade_in_is_bit_exact(runs):
    root, mid = runs
    assert mid["step"] == 7 and 0 < mid["recipe_state"][0]["alpha"] < 1
    (a, meta_a), (b, meta_b) = checkpoint(root / "a"), checkpoint(root / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert meta_a["recipe_state"] == meta_b["recipe_state"]
    assert a["net.generator.w_avg"].abs().sum() > 0  # the truncation centre was tracked and checkpointed


def test_truncation_zero_gives_one_image_for_every_seed_and_mixing_goes_from_a_to_b(runs):
    gen = ganforge.load(runs[0] / "a")
    first, second = gen.sample(4, seed=0, truncation=0.0), gen.sample(4, seed=9, truncation=0.0)
    assert torch.allclose(first, first[:1].expand_as(first), atol=1e-5) and torch.allclose(first, second, atol=1e-5)
    untruncated = gen.sample(4, seed=0)
    assert (untruncated - untruncated[:1]).abs().amax() > 1e-3 and torch.equal(untruncated, gen.sample(4, seed=0))
    strip = gen.sample(5, mix=(3, 7))
    assert torch.allclose(strip[0], gen.sample(1, seed=3)[0], atol=1e-5)
    assert torch.allclose(strip[-1], gen.sample(1, seed=7)[0], atol=1e-5)
    progan = Trainer(tiny("progan", runs[0] / "p"), run_dir=None, callbacks=[]).recipe
    with pytest.raises(GanforgeError, match="does not take truncation"):
        progan.check_knobs({"truncation": 0.5})


def test_fixed_resolution_training(tmp_path):
    opts = {**tiny("stylegan", tmp_path).options, "progressive": False}
    trainer = Trainer(tiny("stylegan", tmp_path, steps=3, options=opts), run_dir=None, callbacks=[])
    trainer.fit()
    assert trainer.recipe.growth.phases == [(1, False, 8)] and trainer.recipe.stage.resolution == 8


def test_learns_fashion_mnist_at_8x8(shared_data):
    """Pixel-space Fréchet distance to the test images, measured {untrained: 73, 250 steps: 3.8}; a
    mean-image or independent-pixel Gaussian scores ~13."""
    trainer, untrained, trained = learn_fashion_mnist_at_8x8("stylegan", shared_data)
    assert untrained > 20 and trained < 8, (untrained, trained)
