"""StackGAN: stages, losses, exact resume across stage switches, prompts (API and CLI), and on real
OpenMoji captions that the generated colours follow the caption where an untrained generator's do not."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.recipes.stackgan import kl_divergence
from ganforge.train.checkpoint import latest_checkpoint
from ganforge.train.trainer import Trainer
from tests.conftest import SHARED_DATA
from tests.recipes.learning import QUIET, one_thread

CAPTIONS = ["red heart", "blue heart", "red circle", "blue circle", "green square", "red square", "blue square",
            "green heart", "green circle"]
TINY = dict(recipe="stackgan", data="captions", image_size=16, batch_size=4, z_dim=8, g_width=8, d_width=8,
            deterministic=True, seed=3, device="cpu", channels_last=False, log_every=2, sample_every=0)


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    root = tmp_path_factory.mktemp("captions")
    (root / "img").mkdir()
    lines = ["file,caption"]
    for i, caption in enumerate(CAPTIONS):
        colour = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}[caption.split()[0]]
        Image.fromarray(np.full((16, 16, 3), colour, np.uint8)).save(root / "img" / f"{i}.png")
        lines.append(f"{i}.png,{caption}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def _cfg(root, out, steps=10, **kw):
    return make_config({**TINY, "data_dir": str(root), "out": str(out), "steps": steps, "checkpoint_every": 5,
                        "options": {"images": "img", "encoder_steps": 3, "stage1_steps": 3}, **kw})


def test_stages_schedule_and_losses(captioned, tmp_path):
    recipe = Trainer(_cfg(captioned, tmp_path / "r"), run_dir=None, callbacks=[]).recipe
    assert [recipe.stage(s) for s in (0, 2, 3, 5, 6, 9)] == [0, 0, 1, 1, 2, 2]
    names = [(p.name, [s for s in range(10) if p.due(s)]) for p in recipe.phases()]
    assert names == [("E", [0, 1, 2]), ("D1", [3, 4, 5]), ("G1", [3, 4, 5]), ("D2", [6, 7, 8, 9]), ("G2", [6, 7, 8, 9])]
    long = Trainer(_cfg(captioned, tmp_path / "l", steps=1200 + 600, options={
        "images": "img", "encoder_steps": 600, "stage1_steps": 600}), run_dir=None, callbacks=[]).recipe
    assert long.schedule(600).lr == {"d1": 1.0, "g1": 1.0}
    assert long.schedule(1199).lr == {"d1": 0.5 ** 5, "g1": 0.5 ** 5} and long.schedule(1300).lr["g2"] == 0.5
    assert kl_divergence(torch.zeros(2, 4), torch.zeros(2, 4)) == 0 and kl_divergence(torch.ones(2, 4), torch.zeros(2, 4)) == 0.5
    batch = Trainer(_cfg(captioned, tmp_path / "b"), run_dir=None, callbacks=[]).sampler.next()
    for stage in (1, 2):
        loss, logs = recipe.discriminator_loss(batch, stage)
        assert torch.allclose(loss, logs["d_real"] + 0.5 * (logs["d_fake"] + logs["d_wrong"]))
        g_loss, g_logs = recipe.generator_loss(batch, stage)
        assert g_loss.requires_grad and set(g_logs) == {"g_loss", "kl"}


def test_resume_is_exact_across_stage_switches(captioned, tmp_path):
    with one_thread():
        Trainer(_cfg(captioned, tmp_path / "a"), callbacks=[]).fit()
        Trainer(_cfg(captioned, tmp_path / "b", steps=5), callbacks=[]).fit()  # stops inside stage I
        Trainer(_cfg(captioned, tmp_path / "b"), callbacks=[], resume=True).fit()
    meta_a, _ = latest_checkpoint(tmp_path / "a")
    a = load_file(str(tmp_path / "a" / "checkpoints" / meta_a["tensors"]))
    b = load_file(str(tmp_path / "b" / "checkpoints" / latest_checkpoint(tmp_path / "b")[0]["tensors"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert set(meta_a["optimizers"]) == {"encoder", "d1", "g1", "d2", "g2"}


def test_prompts_through_the_api_and_the_cli(captioned, tmp_path, capsys):
    import ganforge

    with one_thread():
        Trainer(_cfg(captioned, tmp_path / "run"), callbacks=[]).fit()
    gen = ganforge.load(tmp_path / "run")
    with pytest.warns(UserWarning, match="dropped: sunglasses"):
        x = gen.sample(3, prompt="red heart with sunglasses")
    assert x.shape == (3, 3, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = gen.sample(3, prompt="red heart")  # the dropped words change nothing
        assert torch.equal(same, x) and not torch.equal(gen.sample(3, prompt="blue square"), x)
        assert gen.sample(2, prompt=["red heart", "blue square"]).shape[0] == 2
    with pytest.raises(GanforgeError, match="no word the model was trained on"):
        gen.sample(2, prompt="sunglasses")
    with pytest.raises(GanforgeError, match="--prompt"):
        gen.sample(2)
    assert main(["sample", str(tmp_path / "run"), "--prompt", "green circle", "-n", "4", "--out",
                 str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 16
    assert main(["sample", str(tmp_path / "run"), "--prompt", "xyzzy", "-n", "4", "--out", str(tmp_path / "g.png")]) == 2
    assert "no word the model was trained on" in capsys.readouterr().err
    # ganforge eval: one image per caption, scored by a matching model (9 captions: too few for 100 candidates)
    matcher = make_config({**TINY, "recipe": "text-encoder", "data_dir": str(captioned), "steps": 2,
                           "out": str(tmp_path / "matcher"), "options": {"images": "img"}})
    Trainer(matcher, callbacks=[]).fit()
    argv = ["eval", str(tmp_path / "run"), "--metrics", "r_precision", "--reference", "train"]
    assert main(argv) == 2 and "--matcher MATCHER_RUN" in capsys.readouterr().err
    assert main(argv + ["--matcher", str(tmp_path / "matcher")]) == 2
    assert "needs at least 100 distinct captions; there are 8" in capsys.readouterr().err


def test_wrong_data_and_stage_lengths_are_clear_errors(captioned, tmp_path):
    with pytest.raises(GanforgeError, match="needs images with captions"):
        Trainer(make_config({**TINY, "data": "digits", "steps": 10, "out": str(tmp_path / "d")}), run_dir=None)
    with pytest.raises(GanforgeError, match="encoder_steps \\(0\\) >= 1"):
        Trainer(_cfg(captioned, tmp_path / "s", options={"images": "img", "encoder_steps": 0}), run_dir=None)


COLOURS = ("red", "blue", "green", "yellow", "orange", "purple", "brown")
SHAPES = ("heart", "circle", "square", "hexagon")


@pytest.fixture(scope="module")
def colour_captions(tmp_path_factory):
    """The 73 OpenMoji training images whose caption names a colour (hearts, circles, squares, flags, ...)."""
    import pandas as pd

    root = SHARED_DATA / "emoji" / "openmoji"
    if not (root / "metadata.csv").is_file():
        pytest.skip(f"emoji data not found at {root}; set GANFORGE_TEST_DATA")
    table = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)
    named = table.annotation.str.lower().str.contains(r"\b(?:" + "|".join(COLOURS) + r")\b")
    table = table[named & (table.skintone == "") & (table.split == "train")]
    folder = tmp_path_factory.mktemp("colours")
    table[["file", "annotation"]].to_csv(folder / "metadata.csv", index=False)
    return folder, root / "color"


def redness(recipe, colour: str, stage: int = 2) -> float:
    """Mean red minus blue channel of 64 images drawn for "<colour> heart/circle/square/hexagon"."""
    x = torch.cat([recipe.sample(16, seed=1, prompt=f"{colour} {shape}", stage=stage).x for shape in SHAPES])
    return float((x[:, 0] - x[:, 2]).mean())


def test_generated_colours_follow_the_caption(colour_captions):
    """16x16 images (stage I at 8x8), tiny widths, 100 + 250 + 300 steps at lr 5e-4 (a CPU budget of ~35 s):
    "red ..." prompts give redder images than "blue ..." ones at both stages; the untrained generator
    (same text encoder) does not tell them apart."""
    folder, images = colour_captions
    cfg = make_config({**QUIET, "recipe": "stackgan", "data": "captions", "data_dir": str(folder), "image_size": 16,
                       "steps": 650, "batch_size": 16, "g_width": 16, "d_width": 16, "z_dim": 16, "lr_g": 5e-4,
                       "lr_d": 5e-4, "seed": 0, "options": {"images": str(images), "caption_column": "annotation",
                                                            "encoder_steps": 100, "stage1_steps": 250}})
    with one_thread():
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg), callbacks=[])
        control = redness(trainer.recipe, "red") - redness(trainer.recipe, "blue")
        trainer.fit()
    recipe = trainer.recipe
    stage1 = redness(recipe, "red", 1) - redness(recipe, "blue", 1)
    stage2 = redness(recipe, "red") - redness(recipe, "blue")
    assert abs(control) < 0.01 and stage1 > 0.15 and stage2 > 0.04, (control, stage1, stage2)
