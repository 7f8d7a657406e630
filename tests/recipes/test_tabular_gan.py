"""tabular-gan learns a mixed table, keeps its columns' types, runs with the BC-loss, and the CLI writes a CSV."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.train.trainer import Trainer

FAST = {"mixture_iters": 20, "pac": 2}  # batch 100 / pac 2: 50 critic inputs per step, as CTGAN's 500 / 10


def mixed_table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A seeded mixed table with structure an untrained generator cannot have: a category-dependent,
    bimodal numeric column, a strongly correlated pair, a skewed categorical and a label."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1])
    height = np.where(colour == "red", rng.normal(150, 8, n), rng.normal(190, 8, n)).round(1)
    weight = (0.9 * height - 80 + rng.normal(0, 4, n)).round(1)
    label = np.where(height + rng.normal(0, 10, n) > 170, "tall", "short")
    return pd.DataFrame({"colour": colour, "height": height, "weight": weight,
                         "steps": rng.poisson(30, n).astype(np.int64) + 100, "label": label})


def distances(real: pd.DataFrame, fake: pd.DataFrame) -> tuple[float, float, float]:
    from scipy.stats import ks_2samp

    numeric = ["height", "weight", "steps"]
    ks = max(ks_2samp(real[c], fake[c]).statistic for c in numeric)
    tv = max(0.5 * real[c].value_counts(normalize=True).sub(fake[c].value_counts(normalize=True), fill_value=0)
             .abs().sum() for c in ("colour", "label"))
    corr = np.abs(real[numeric].corr().to_numpy() - fake[numeric].corr().to_numpy()).max()
    return ks, tv, corr


def _train(path, seed):
    cfg = make_config({"recipe": "tabular-gan", "data_path": str(path), "target": "label", "steps": 700, "batch_size": 100,
                       "lr_g": 1e-3, "lr_d": 1e-3, "g_width": 128, "d_width": 128, "device": "cpu",
                       "options": FAST, "seed": seed})
    torch.manual_seed(0)
    return Trainer(cfg, run_dir=None, callbacks=[])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    table = mixed_table()
    path = tmp_path_factory.mktemp("tabgan") / "mixed.csv"
    table.to_csv(path, index=False)
    trainer = _train(path, 0)
    untrained = trainer.recipe.sample_frame(2000, seed=1)
    trainer.fit()
    return table, trainer, untrained, path


def test_training_brings_marginals_and_correlations_close(trained):
    """Three training seeds (one seed's 700 steps vary too much to judge alone: across seeds 0-3 the largest
    correlation error, always against the independent 'steps' column, measured 0.05 to 0.39)."""
    table, trainer, untrained, path = trained
    runs = [trainer]
    for seed in (1, 2):
        other = _train(path, seed)
        other.fit()
        runs.append(other)
    results = np.array([distances(table, t.recipe.sample_frame(2000, seed=1)) for t in runs])
    ks, tv, corr = np.median(results, axis=0)
    before = distances(table, untrained)
    # measured here (3 seeds): KS 0.42 / 0.30 / 0.28, TV <= 0.01, largest correlation error 0.39 / 0.05 / 0.16.
    # The KS bound is loose on purpose: 700 steps do not settle the numeric marginals (docs/TABULAR.md)
    assert ks < 0.45 and tv < 0.1 and corr < 0.3, results
    # the strong dependence (height-weight correlation 0.96) is reproduced by every seed
    for t in runs:
        fake = t.recipe.sample_frame(2000, seed=1)
        assert abs(fake.height.corr(fake.weight) - table.height.corr(table.weight)) < 0.1
    # the untrained generator has neither the category frequencies nor the correlations (TV ~0.25,
    # corr ~0.98): those two bounds are earned by training (its KS, ~0.15, is not: see docs/TABULAR.md)
    assert before[1] > 0.15 and before[2] > 0.5, before
    # the category-dependent mode is learnt: red rows are short, the others tall
    red = fake.loc[fake.colour == "red", "height"].mean()
    other = fake.loc[fake.colour != "red", "height"].mean()
    assert other - red > 25, (red, other)
    # and the label dependence (the generator is conditioned on it): real tall - short is ~32 cm
    by_label = fake.groupby("label")["height"].mean()
    assert by_label["tall"] - by_label["short"] > 15, by_label


def test_synthetic_columns_keep_types_categories_and_ranges(trained):
    table, trainer, _, _ = trained
    fake = trainer.recipe.sample_frame(3000, seed=2)
    assert list(fake.columns) == list(table.columns) and (fake.dtypes == table.dtypes).all()
    for column in ("colour", "label"):
        assert set(fake[column]) <= set(table[column])
    for column in ("height", "weight", "steps"):
        assert table[column].min() <= fake[column].min() and fake[column].max() <= table[column].max()
    assert np.array_equal(fake["height"], fake["height"].round(1))


def test_conditional_sampling(trained):
    _, trainer, _, _ = trained
    blue = trainer.recipe.sample_frame(200, seed=3, condition={"colour": "blue"})
    assert (blue.colour == "blue").all() and blue.height.mean() > 175
    tall = trainer.recipe.sample_frame(200, seed=3, label=trainer.dataset.class_names.index("tall"))
    assert (tall.label == "tall").all()
    with pytest.raises(GanforgeError, match="'purple'"):
        trainer.recipe.sample_frame(10, condition={"colour": "purple"})
    with pytest.raises(GanforgeError, match="cannot condition on column 'height'"):
        trainer.recipe.sample_frame(10, condition={"height": 150.0})


def test_bc_loss_runs_on_the_encoded_rows(tmp_path):
    path = tmp_path / "mixed.csv"
    mixed_table(300, seed=1).to_csv(path, index=False)
    cfg = make_config({"recipe": "tabular-gan", "data_path": str(path), "target": "label", "steps": 3, "batch_size": 100,
                       "bc_weight": 1.0, "bc_classifiers": "logreg", "g_width": 32, "d_width": 32,
                       "device": "cpu", "options": FAST})
    trainer = Trainer(cfg, run_dir=None, callbacks=[])
    assert trainer.recipe.bc is not None
    batch = trainer.sampler.next()
    loss, logs = trainer.recipe.generator_phase(batch, 0)
    assert "bc_loss" in logs and torch.isfinite(logs["bc_loss"]) and logs["bc_loss"] > 0
    loss.backward()  # the BC gradient reaches the generator through the encoded fake rows
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.recipe.nets["generator"].parameters())


def test_bad_settings_are_clear_errors(tmp_path):
    path = tmp_path / "mixed.csv"
    mixed_table(100).to_csv(path, index=False)
    base = {"recipe": "tabular-gan", "data_path": str(path), "target": "label", "steps": 1, "device": "cpu"}
    with pytest.raises(GanforgeError, match="multiple of pac"):
        Trainer(make_config({**base, "batch_size": 55, "options": {**FAST, "pac": 10}}), run_dir=None)
    with pytest.raises(GanforgeError, match="models tables"):
        Trainer(make_config({**base, "data": "toy-ring"}), run_dir=None)


def test_cli_train_then_sample_to_csv(tmp_path):
    from ganforge.cli import main

    path = tmp_path / "mixed.csv"
    table = mixed_table(200, seed=2)
    table.to_csv(path, index=False)
    run = tmp_path / "run"
    code = main(["train", "--recipe", "tabular-gan", "--data", "tabular", "--data-path", str(path), "--target",
                 "label", "--steps", "20", "--batch-size", "50", "--g-width", "32", "--d-width", "32", "--device", "cpu",
                 "--options", "{mixture_iters: 20}", "--out", str(run)])
    assert code == 0
    path.unlink()  # sampling needs only the run folder
    out = tmp_path / "synth.csv"
    assert main(["sample", str(run), "-n", "500", "--out", str(out)]) == 0
    synth = pd.read_csv(out)
    assert synth.shape == (500, 5) and list(synth.columns) == list(table.columns)
    assert (synth.dtypes == table.dtypes).all() and set(synth.label) <= {"tall", "short"}
    assert main(["sample", str(run), "-n", "5", "--class", "7", "--out", str(tmp_path / "x.csv")]) == 2


def test_resume_is_bit_exact(tmp_path):
    """Training-by-sampling draws come from the torch RNG that checkpoints save: 10 + 10 steps == 20 steps."""
    from safetensors.torch import load_file

    path = tmp_path / "mixed.csv"
    mixed_table(200, seed=4).to_csv(path, index=False)
    base = {"recipe": "tabular-gan", "data_path": str(path), "target": "label", "batch_size": 50, "g_width": 16,
            "d_width": 16, "device": "cpu", "options": FAST, "checkpoint_every": 10}
    Trainer(make_config({**base, "steps": 20, "out": str(tmp_path / "a")}), callbacks=[]).fit()
    Trainer(make_config({**base, "steps": 10, "out": str(tmp_path / "b")}), callbacks=[]).fit()
    Trainer(make_config({**base, "steps": 20, "out": str(tmp_path / "b")}), callbacks=[], resume=True).fit()
    a = load_file(tmp_path / "a" / "checkpoints" / "step-00000020.safetensors")
    b = load_file(tmp_path / "b" / "checkpoints" / "step-00000020.safetensors")
    nets = [k for k in a if k.startswith("net.")]
    assert nets and all(torch.equal(a[k], b[k]) for k in nets)
