"""The mode-collapse protocol at the published settings (PacGAN: ring radius 1 / std 0.01, grid spacing
2 / std 0.05; never widened): the default recipe with the datasets' suggested settings
(``ganforge/configs/data/toy-*.yaml``), trained for fewer steps than the default, already covers every
mode evenly. A collapsed generator fails every assertion (modes, reverse KL); a spraying one fails the
high-quality fraction."""
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.modes import toy_mode_metrics
from ganforge.sampling import generate
from ganforge.train.trainer import Trainer
from tests.recipes.learning import QUIET, one_thread


def protocol(data: str, steps: int) -> dict:
    cfg = make_config({**QUIET, "data": data, "steps": steps, "collapse_warning": False})
    with one_thread():
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg))
        trainer.fit()
    meta = trainer.dataset.meta
    x, _ = generate(trainer.recipe, trainer.ema.model, 2500, seed=0)  # the EMA generator, as `ganforge eval`
    return toy_mode_metrics(x, meta["centres"], meta["std"])


def test_the_defaults_are_the_published_settings_with_packing():
    ring, grid = make_config({"data": "toy-ring"}), make_config({"data": "toy-grid"})
    for cfg in (ring, grid):
        assert cfg.recipe == "dcgan" and cfg.architecture == "mlp" and cfg.pack > 1 and cfg.mbstd_group > 0
        assert cfg.options == {}  # the datasets' own defaults: radius 1 / std 0.01, spacing 2 / std 0.05
    # Settings tuned for the default recipe stay with it; other recipes get the data-wide suggestion only.
    other = make_config({"data": "toy-ring", "recipe": "wgan-gp"})
    assert other.architecture == "mlp" and other.pack == 1 and other.lr_d == 1e-4
    assert make_config({"data": "toy-ring", "pack": 1}).pack == 1  # the user still wins


def test_ring_covers_all_8_modes_evenly_in_5000_steps():
    # The default runs 15,000 steps (8/8 modes, 91-97% high quality on seeds 0-2). Measured at 5,000
    # steps, seed 0 (the same trajectory: nothing depends on `steps`): 8 modes, 84% high quality,
    # reverse KL 0.003.
    # One mode only: modes 1, reverse KL log 8 = 2.08; an untrained generator: no high-quality sample.
    report = protocol("toy-ring", 5000)
    assert report["modes"] == 8 and report["reverse_kl"] <= 0.05 and report["high_quality"] >= 0.6, report


def test_grid_finds_the_modes_in_10000_steps():
    # Time: 91 s on one thread of a shared 2-core machine at load ~6 (the ring test: 48 s), above the
    # ~60 s budget; fewer steps would not yet separate a working grid run from a partial collapse.
    # The default runs 20,000 steps (hinge, Adam (0.5, 0.9), EMA 0.995 since 2026-12-02: 25/25 modes, 92.3 /
    # 93.6 / 80.8% on seeds 0-2, AMD EPYC). The grid sharpens late: at 10,000 steps seeds 0/1/2 had 25/25/25
    # modes, 27/41/32% high quality, reverse KL 0.34/0.29/0.32 (the test's seed 0 passed at 213 s wall, load
    # ~4). A collapsed generator covers a handful of modes with reverse KL ~ log 25 = 3.2.
    report = protocol("toy-grid", 10000)
    assert report["modes"] >= 22 and report["reverse_kl"] <= 0.7 and report["high_quality"] >= 0.15, report
