"""Shared by the translation learning tests: a quiet one-thread training run, and held-out paired
scores of the model against identity and the mean training target."""
from __future__ import annotations

import time

from ganforge.config import make_config
from ganforge.data import load_dataset
from ganforge.metrics.translation import paired_scores
from ganforge.train.trainer import Trainer
from tests.recipes.learning import QUIET, one_thread


def train_quietly(**overrides):
    cfg = make_config({**QUIET, **overrides})
    with one_thread():
        start = time.process_time()
        trainer = Trainer(cfg, run_dir=None, dataset=load_dataset(cfg))
        trainer.fit()
    return trainer, load_dataset(cfg, "test"), time.process_time() - start


def held_out_scores(trainer, test):
    recipe = trainer.recipe
    inputs, truth, knobs = recipe.eval_pairs(test)
    with one_thread():
        out = recipe.sample(len(inputs), inputs=inputs, **knobs).x
    mean = recipe.eval_reference(trainer.dataset).mean(0, keepdim=True).expand_as(truth)
    return paired_scores(out, truth), paired_scores(inputs, truth), paired_scores(mean, truth)
