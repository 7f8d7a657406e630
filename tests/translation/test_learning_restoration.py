"""Learning tests of the restoration and synthesis recipes (super-resolution, inpainting, SPADE) on real
data, split from test_learning.py so that xdist's --dist loadscope can put the two halves on different
workers. Same rules: short runs of the benchmark configurations, never an easier task."""
from __future__ import annotations

from ganforge.metrics.translation import paired_scores
from tests.recipes.learning import one_thread
from tests.translation.learning import train_quietly as _train


def _sr(recipe, shared_data, **kw):
    from ganforge.recipes.srgan import bicubic_up

    trainer, test, cpu = _train(recipe=recipe, data="fashion-mnist", data_dir=str(shared_data / "fashion-mnist"),
                                batch_size=16, g_width=32, d_width=32, lr_g=1e-3, lr_d=1e-3, seed=0, **kw)
    test = test.subset(2000)
    lr, hr, _ = trainer.recipe.eval_pairs(test)
    with one_thread():
        out = trainer.recipe.sample(len(lr), inputs=lr).x
    names = ("l1", "psnr_y", "ssim_y")
    return paired_scores(out, hr, names), paired_scores(bicubic_up(lr, 4), hr, names), cpu


def test_srresnet_beats_bicubic_on_fashion_mnist_x4(shared_data):
    """7x7 -> 28x28 (bicubic-downsampled LR), 2,000 held-out images. Measured: PSNR_y 18.2 dB vs bicubic 16.0."""
    model, bicubic, cpu = _sr("srresnet", shared_data, steps=300, options={"blocks": 4})
    print(f"srresnet cpu {cpu:.0f}s model {model} bicubic {bicubic}")
    assert model["psnr_y"] > bicubic["psnr_y"] + 1.5 and model["ssim_y"] > bicubic["ssim_y"] + 0.05


def test_srgan_beats_bicubic_after_mse_pretraining(shared_data):
    """SRResNet initialisation (300 MSE steps), then 150 adversarial steps (content + 1e-3 GAN)."""
    model, bicubic, cpu = _sr("srgan", shared_data, steps=450, options={"blocks": 4, "pretrain_steps": 300})
    print(f"srgan cpu {cpu:.0f}s model {model} bicubic {bicubic}")
    assert model["psnr_y"] > bicubic["psnr_y"] + 1.0 and model["ssim_y"] > bicubic["ssim_y"]


def test_esrgan_beats_bicubic_after_l1_pretraining(shared_data):
    """RRDB G: 300 L1 steps (the PSNR-oriented model), then 150 relativistic-GAN steps (5e-3 RaGAN + 1e-2 L1 +
    the pixel L1 in place of the perceptual term: no VGG offline). Measured (53 CPU-s): PSNR_y 17.56 vs bicubic
    15.96, SSIM_y 0.536 vs 0.447."""
    model, bicubic, cpu = _sr("esrgan", shared_data, steps=450,
                              options={"blocks": 1, "growth": 16, "pretrain_steps": 300})
    print(f"esrgan cpu {cpu:.0f}s model {model} bicubic {bicubic}")
    assert model["psnr_y"] > bicubic["psnr_y"] + 1.0 and model["ssim_y"] > bicubic["ssim_y"]


def test_inpaint_fills_fashion_mnist_holes_better_than_the_mean_image(shared_data):
    """DeepFill v2 on 28x28 Fashion-MNIST with free-form + box holes (36% of the pixels), 500 held-out
    images with the fixed evaluation masks, against the holes filled with the mean training image.
    Measured (200 steps, ~70 CPU-s): GAN weight 0.1: L1 0.156 vs fill 0.189, PSNR 15.15 vs 14.97; the
    paper's 1:1 weighting needs longer than this budget (L1 0.278 at 200 steps, lr 1e-3 and 3e-3: the
    hinge term dominates early); L1 only (weight 0): 0.143."""
    trainer, test, cpu = _train(recipe="inpaint", data="fashion-mnist", data_dir=str(shared_data / "fashion-mnist"),
                                steps=200, batch_size=16, g_width=8, d_width=16, lr_g=1e-3, lr_d=1e-3, seed=0,
                                options={"gan_weight": 0.1})
    recipe, test = trainer.recipe, test.subset(500)
    x, truth, knobs = recipe.eval_pairs(test)
    with one_thread():
        out = recipe.sample(len(x), inputs=x, **knobs).x
    model = paired_scores(out, truth, ("l1", "psnr", "ssim"))
    fill = paired_scores(recipe.baseline("fill", x, **knobs), truth, ("l1", "psnr", "ssim"))
    print(f"inpaint cpu {cpu:.0f}s model {model} fill {fill}")
    assert model["l1"] < 0.9 * fill["l1"] and model["psnr"] > fill["psnr"] and model["ssim"] > fill["ssim"]


def test_spade_draws_openmoji_from_palette_label_maps(emoji):
    """Palette-derived label maps of OpenMoji colour images -> images, 451 held-out emoji. Scored by how many
    output pixels fall in the palette class their map asks for (1.0 for the real images) and L1 / PSNR
    against the real image, vs the mean image. Measured (one seed): 50 steps (58 CPU-s): consistency 0.794 vs
    mean image 0.495, L1 0.130 vs 0.355, PSNR 17.6 vs 11.5; 150 steps: 0.929, L1 0.056, PSNR 23.7."""
    from ganforge.data.label_maps import palette_consistency

    trainer, test, cpu = _train(recipe="spade", data="label-maps", data_dir=str(emoji / "openmoji"),
                                options={"images": "color", "labels": "", "exclude": "group=flags"}, steps=50,
                                batch_size=8, g_width=8, d_width=16, lr_g=2e-4, lr_d=8e-4, seed=0)
    recipe = trainer.recipe
    maps, truth, _ = recipe.eval_pairs(test)
    with one_thread():
        out = recipe.sample(len(maps), inputs=maps).x
    mean = recipe.eval_reference(trainer.dataset).mean(0, keepdim=True).expand_as(truth)
    to_uint8 = test.from_model
    model, baseline = palette_consistency(to_uint8(out), maps), palette_consistency(to_uint8(mean), maps)
    scores, mean_scores = paired_scores(out, truth, ("l1", "psnr")), paired_scores(mean, truth, ("l1", "psnr"))
    print(f"spade cpu {cpu:.0f}s consistency {model:.3f} (mean image {baseline:.3f}) {scores} mean {mean_scores}")
    assert model > baseline + 0.2 and scores["l1"] < 0.5 * mean_scores["l1"] and scores["psnr"] > mean_scores["psnr"] + 5
