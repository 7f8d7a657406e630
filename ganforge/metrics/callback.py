"""Evaluation during training (``--eval-every N``): metrics of fresh samples, appended to metrics.jsonl.

It lives with the metrics, not with the trainer (the training layer never imports metrics): the
package's ``ganforge.train`` and ``ganforge train`` add it to a run whose config asks for it.
"""
from __future__ import annotations

import json

from ganforge.train.callbacks import Callback, sampling_nets


class Evaluate(Callback):
    """Metrics every eval_every steps, logged to metrics.jsonl (the eval curve)."""

    def on_start(self, trainer):
        from ganforge.data import load_dataset
        from ganforge.errors import GanforgeError
        from ganforge.metrics import check_extractor

        check_extractor(trainer.recipe, trainer.cfg.eval_extractor)

        # Compare with the held-out split (the training split when a dataset has none).
        try:
            self.reference = load_dataset(trainer.cfg, "test")
        except GanforgeError:
            self.reference = trainer.dataset

    def on_step(self, trainer):
        if trainer.step % trainer.cfg.eval_every and trainer.step != trainer.cfg.steps:
            return
        from ganforge.metrics import evaluate

        x = trainer.recipe.sample(trainer.cfg.eval_samples, seed=trainer.cfg.seed + 2, nets=sampling_nets(trainer)).x
        results = evaluate(x, self.reference, trainer.cfg.eval_metrics.split(","), extractor=trainer.cfg.eval_extractor,
                           train_dataset=trainer.dataset)
        with open(trainer.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": trainer.step, "eval": results}) + "\n")


def evaluation_callbacks(cfg) -> list[Callback]:
    """The callbacks a config asks for beyond the trainer's own."""
    return [Evaluate()] if cfg.eval_every else []
