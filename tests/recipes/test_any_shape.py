"""Recipes of any shape: several networks and optimiser groups, a frozen network, recipe state, stages,
gradient accumulation, typed batches, image-input sampling; exact resume over all of it."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import make_config
from ganforge.data import DATASETS
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer
from tests.recipes.shapes import ThreeNets, Translate, load_negatives


@pytest.fixture
def three_nets():
    RECIPES.register("test-three-nets")(ThreeNets)
    yield
    RECIPES.unregister("test-three-nets")


def _cfg(out, **kw):
    base = dict(recipe="test-three-nets", data="toy-ring", options={"n_samples": 512, "switch_at": 8}, steps=16,
                batch_size=32, z_dim=4, log_every=4, sample_every=0, checkpoint_every=6, deterministic=True, seed=5,
                out=str(out), lr_decay_start=10, device="cpu")
    return make_config({**base, **kw})


def _tensors(run):
    meta, _ = latest_checkpoint(run)
    return load_file(str(run / "checkpoints" / meta["tensors"])), meta


def test_three_networks_two_groups_frozen_state_and_stages_resume_bit_exactly(tmp_path, three_nets):
    straight = Trainer(_cfg(tmp_path / "a"), callbacks=[])
    features_before = {k: v.clone() for k, v in straight.recipe.nets["features"].state_dict().items()}
    straight.fit()
    Trainer(_cfg(tmp_path / "b", steps=6), callbacks=[]).fit()  # stops before the stage switch at 8
    resumed = Trainer(_cfg(tmp_path / "b"), callbacks=[], resume=True)
    assert resumed.step == 6 and resumed.recipe.updates == 0
    resumed.fit()
    a, meta_a = _tensors(tmp_path / "a")
    b, meta_b = _tensors(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert meta_a["recipe_state"] == meta_b["recipe_state"] == [{"updates": 16}]  # 8 adversarial steps x 2 accumulated batches
    assert "recipe.rank0.real_mean" in a and a["recipe.rank0.real_mean"].abs() > 0
    assert set(meta_a["optimizers"]) == {"autoencoder", "discriminator"} and meta_a["emas"] == ["generator"]
    # the frozen network never changed and is not in any optimiser
    for k, v in straight.recipe.nets["features"].state_dict().items():
        assert torch.equal(v, features_before[k])
    assert not any(p.requires_grad for p in straight.recipe.nets["features"].parameters())
    # the lr decay schedule ran: the last step's lr is below the base
    assert straight.optimizers["discriminator"].param_groups[0]["lr"] < 1e-3


def test_resume_after_the_stage_switch_and_accumulation(tmp_path, three_nets):
    """Resume at step 12 (inside the adversarial stage, with gradient accumulation). The lr decay runs
    from step 12 to the last step, so the shorter first run (steps=12) has the same schedule."""
    cfg = dict(checkpoint_every=4, lr_decay_start=12)
    Trainer(_cfg(tmp_path / "a", **cfg), callbacks=[]).fit()
    Trainer(_cfg(tmp_path / "b", steps=12, **cfg), callbacks=[]).fit()
    Trainer(_cfg(tmp_path / "b", **cfg), callbacks=[], resume=True).fit()
    a, _ = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # D drew 2 batches per step (accumulate 2), G reused the last one: 8 x 1 (pre-training) + 8 x 2
    assert _tensors(tmp_path / "a")[1]["sampler_drawn"] == 8 + 8 * 2


def test_misspelt_option_names_the_valid_ones(tmp_path, three_nets):
    with pytest.raises(GanforgeError, match=r"unknown option 'switch_at_step'.*Did you mean 'switch_at'"):
        Trainer(_cfg(tmp_path / "x", options={"switch_at_step": 3}), callbacks=[])
    with pytest.raises(GanforgeError, match="option 'switch_at'.*must be int"):
        Trainer(_cfg(tmp_path / "x", options={"switch_at": "soon"}), callbacks=[])


def test_a_misspelt_option_of_a_classic_recipe_is_an_error():
    with pytest.raises(GanforgeError, match=r"unknown option 'aux_wieght'.*Did you mean 'aux_weight'"):
        Trainer(make_config({"recipe": "acgan", "steps": 1, "options": {"aux_wieght": 2}}), run_dir=None)


def test_default_architecture_follows_the_data_kind():
    trainer = Trainer(make_config({"recipe": "wgan-gp", "data": "toy-ring", "steps": 1,
                                   "options": {"n_samples": 256}}), run_dir=None)
    assert type(trainer.recipe.nets["generator"]).__name__.startswith("MLP")


@pytest.fixture
def translate():
    RECIPES.register("test-translate")(Translate)
    DATASETS.register("digits-negative")(load_negatives)
    yield
    RECIPES.unregister("test-translate")
    DATASETS.unregister("digits-negative")


def test_image_input_recipe_trains_and_translates_a_folder(tmp_path, translate):
    from ganforge.cli import main
    from ganforge.utils.images import save_png

    run = tmp_path / "run"
    assert main(["train", "--recipe", "test-translate", "--data", "digits-negative", "--steps", "150", "--batch-size",
                 "32", "--ema-decay", "0", "--sample-every", "50", "--out", str(run)]) == 0
    assert (run / "samples.png").is_file() and (run / "samples" / "step-00000050.png").is_file()
    inputs = tmp_path / "in"
    inputs.mkdir()
    digits = DATASETS.get("digits")(make_config({}), "test").x[:5]
    for i, image in enumerate(digits):
        save_png(image, inputs / f"digit{i}.png")
    out = tmp_path / "out"
    assert main(["sample", str(run), "--input", str(inputs), "--out", str(out)]) == 0
    from PIL import Image
    import numpy as np

    translated = np.stack([np.asarray(Image.open(out / f"digit{i}.png")) for i in range(5)]).astype(float)
    target = 255.0 - digits[:, 0].numpy()
    # learned: much closer to the negatives than the inputs are (mean abs error in grey levels)
    assert np.abs(translated - target).mean() < 0.5 * np.abs(digits[:, 0].numpy() - target).mean()
    assert main(["sample", str(run), "--input", str(inputs), "--out", str(tmp_path / "grid.png")]) == 0
    # knobs the recipe does not take, and a noise sample from a recipe that needs inputs, are clear errors
    assert main(["sample", str(run), "--input", str(inputs), "--truncation", "0.5", "--out", str(out)]) == 2
    assert main(["sample", str(run), "--input", str(tmp_path / "missing"), "--out", str(out)]) == 2


@pytest.fixture
def custom_step():
    from tests.recipes.shapes import CustomStep

    RECIPES.register("test-custom-step")(CustomStep)
    yield
    RECIPES.unregister("test-custom-step")


def test_train_step_escape_hatch_keeps_guards_logs_and_exact_resume(tmp_path, custom_step):
    cfg = dict(recipe="test-custom-step", lr_decay_start=0)
    straight = Trainer(_cfg(tmp_path / "a", **cfg), callbacks=[])
    straight.fit()
    Trainer(_cfg(tmp_path / "b", steps=6, **cfg), callbacks=[]).fit()
    Trainer(_cfg(tmp_path / "b", **cfg), callbacks=[], resume=True).fit()
    a, meta = _tensors(tmp_path / "a")
    b, _ = _tensors(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a) and meta["sampler_drawn"] == 16
    # the guard sees what the custom step does: a NaN loss is caught at the next check
    trainer = Trainer(_cfg(tmp_path / "c", divergence="stop", **cfg), callbacks=[])
    trainer.recipe.generator_phase = lambda batch, step: (torch.tensor(float("nan"), requires_grad=True), {})
    from ganforge.errors import DivergenceError

    with pytest.raises(DivergenceError):
        trainer.fit()
