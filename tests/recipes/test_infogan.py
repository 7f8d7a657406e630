"""InfoGAN: categorical + continuous codes, a Q head on D's body, the MI bound; sampling with codes and
traversals from the CLI and the API; the categorical code learns the digits (unsupervised accuracy)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.classifiers import pretrained
from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.metrics.infogan import categorical_code_accuracy, matched_accuracy
from ganforge.recipes.infogan import InfoDiscriminator, InfoGenerator
from ganforge.train.trainer import Trainer
from tests.recipes.learning import QUIET, one_thread, train

TINY = dict(recipe="infogan", data="digits", g_width=8, d_width=8, z_dim=4, batch_size=16)
# The learning test: 600 steps of half-width nets on 8x8 digits (measured: code accuracy 0.90 in 19 CPU-s;
# the 1-step control: 0.10, chance).
LEARN = dict(g_width=32, d_width=32, z_dim=16, batch_size=64, lr_d=2e-4, lr_g=1e-3)
LEARN_STEPS, LEARN_BOUND = 600, 0.6


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("infogan") / "run"
    Trainer(make_config({**TINY, "steps": 2, "checkpoint_every": 0, "sample_every": 0, "out": str(out),
                         "channels_last": False})).fit()
    return out


def test_q_head_shares_the_body_and_the_bound_is_log_k_for_a_perfect_q():
    t = Trainer(make_config({**QUIET, **TINY, "steps": 1}), run_dir=None, callbacks=[])
    recipe = t.recipe
    logit, q = recipe.nets["discriminator"](torch.zeros(3, 1, 8, 8))
    assert logit.shape == (3,) and q.shape == (3, 10 + 2)  # 10 category logits + 2 means (std fixed to 1)
    assert recipe.nets["generator"](torch.zeros(3, 4), torch.zeros(3, 12)).shape == (3, 1, 8, 8)
    codes = recipe.random_labels(64)
    assert codes.shape == (64, 12) and torch.equal(codes[:, :10].sum(1), torch.ones(64))
    assert codes[:, 10:].abs().max() <= 1
    perfect = torch.cat([codes[:, :10] * 50, codes[:, 10:]], 1)
    _, logs = recipe.mutual_information(perfect, codes)
    assert float(logs["mi_cat"]) == pytest.approx(math.log(10), abs=1e-3)
    _, blind = recipe.mutual_information(torch.zeros(64, 12), codes)
    assert float(blind["mi_cat"]) == pytest.approx(0.0, abs=1e-5) and float(blind["mi_cont"]) < float(logs["mi_cont"])


def test_the_authors_initialisation_and_uniform_noise():
    """openai/InfoGAN's custom_ops: weights N(0, 0.02) (convolutions truncated at 2 std), BN scales
    N(1, 0.02); its MNIST launcher draws the noise z from U(-1, 1)."""
    d = InfoDiscriminator(1, 28, 64, 12)
    fc, conv, bn = d.body[6], d.body[2], d.body[3]
    assert fc.weight.std().item() == pytest.approx(0.02, rel=0.02) and fc.bias.abs().max() == 0
    assert conv.weight.abs().max() <= 0.04 and bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    g = InfoGenerator(74, 1, 28, 64)
    assert g.fc[3].weight.std().item() == pytest.approx(0.02, rel=0.02)
    recipe = Trainer(make_config({**QUIET, **TINY, "steps": 1}), run_dir=None, callbacks=[]).recipe
    z = recipe.latent(4000)
    assert z.abs().max() <= 1 and z.abs().max() > 0.99 and z.std().item() == pytest.approx(1 / math.sqrt(3), rel=0.02)


def test_hungarian_matching():
    confusion = np.array([[0, 9, 1], [8, 0, 2], [1, 1, 7]])
    accuracy, mapping = matched_accuracy(confusion)
    assert mapping == [1, 0, 2] and accuracy == pytest.approx(24 / 29)


def test_sampling_with_codes_and_traversals_from_the_api(run):
    gen = ganforge.load(run)
    x, _ = gen.sample_with_labels(5, codes={"cat": 3, "c1": 0.5})
    recipe = gen.recipe
    out = recipe.sample(5, codes={"cat": 3, "c1": 0.5})
    assert torch.equal(out.extra["cat"], torch.full((5,), 3)) and torch.all(out.extra["codes"][:, 10] == 0.5)
    assert torch.equal(x, out.x)
    grid = gen.traversal("c2", images=20)
    assert grid.x.shape == (20, 1, 8, 8) and grid.extra["nrow"] == 10 and grid.extra["values"][0] == -2.0
    cat = gen.traversal("cat", images=20)
    assert cat.extra["nrow"] == 10 and torch.equal(cat.extra["cat"][:10], torch.arange(10))
    for bad, match in (({"cat": 10}, "not a category"), ({"c3": 1.0}, "unknown code c3"), ({"cat": 1.5}, "not a category")):
        with pytest.raises(GanforgeError, match=match):
            gen.sample(2, codes=bad)


def test_cli_sample_with_codes_and_traverse(run, tmp_path, capsys):
    assert main(["sample", str(run), "--code", "cat=3,c1=0.5", "-n", "4", "--out", str(tmp_path / "x.npz")]) == 0
    assert np.load(tmp_path / "x.npz")["x"].shape == (4, 1, 8, 8)
    assert main(["sample", str(run), "--traverse", "c1", "-n", "30", "--out", str(tmp_path / "c1.png")]) == 0
    assert (tmp_path / "c1.png").stat().st_size > 0 and "3 rows x 10 values" in capsys.readouterr().out
    assert main(["sample", str(run), "--code", "c9=1", "--out", str(tmp_path / "y.png")]) == 2
    assert "unknown code c9" in capsys.readouterr().err
    assert not (tmp_path / "y.png").exists()
    # the metric from `ganforge eval` (2 training steps: near chance, but computed end to end)
    assert main(["eval", str(run), "--metrics", "infogan-accuracy", "--samples", "100", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < scores["code_accuracy"] <= 1 and scores["code_error"] == pytest.approx(1 - scores["code_accuracy"])


def _accuracy(trainer) -> float:
    recipe, classifier = trainer.recipe, pretrained(trainer.dataset, "cnn")
    with one_thread():
        return categorical_code_accuracy(lambda n, seed, codes: recipe.sample(n, seed=seed, codes=codes).x,
                                         classifier, 10, 10, per_value=50)["code_accuracy"]


@pytest.mark.parametrize("steps", [1, LEARN_STEPS])
def test_categorical_code_learns_the_digits(steps):
    """Digits (8x8, real): the unsupervised accuracy of the 10-way code, judged by an independent CNN on
    samples per code value. The 1-step control stays near chance (~0.1)."""
    trainer = train(**{**TINY, **LEARN, "steps": steps})
    accuracy = _accuracy(trainer)
    assert (accuracy >= LEARN_BOUND) == (steps > 1), accuracy
