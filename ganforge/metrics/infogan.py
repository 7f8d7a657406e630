"""InfoGAN's categorical-code accuracy: how well one latent category stands for one class, unsupervised.

Chen et al. (2016) report that InfoGAN's 10-way code "can be used as a classifier that achieves 5% error
rate in classifying MNIST digits by matching each category in c1 to a digit type". Two ways to measure it:

* ``categorical_code_accuracy`` (the ganforge protocol, ``ganforge eval RUN --metrics infogan-accuracy``):
  for each value v of the code, generate n samples with ``cat = v`` (noise and the other codes from their
  priors); an **independent** classifier trained on the real data (``ganforge.classifiers``' CNN) labels
  them; the confusion matrix code x label is matched one-to-one by the Hungarian algorithm
  (``scipy.optimize.linear_sum_assignment``) and the accuracy is the matched fraction. A generator that
  ignores its code scores ~1/K; one whose categories are the classes scores ~ the classifier's accuracy.
* ``q_code_accuracy`` (the paper's reading): Q's categorical prediction on *real* labelled images, matched
  to the labels the same way (needs the trained discriminator, not only the generator).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS


def matched_accuracy(confusion: np.ndarray) -> tuple[float, list[int]]:
    """Best one-to-one matching of rows (code values) to columns (labels): (accuracy, label of each row)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    if confusion.ndim != 2 or confusion.sum() <= 0:
        raise GanforgeError("the code/label confusion matrix is empty.")
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    mapping = [-1] * confusion.shape[0]
    for r, c in zip(rows, cols):
        mapping[int(r)] = int(c)
    return float(confusion[rows, cols].sum() / confusion.sum()), mapping


@torch.no_grad()
def categorical_code_accuracy(sample, classifier, num_values: int, num_labels: int, per_value: int = 100,
                              seed: int = 0, code: str = "cat") -> dict[str, float]:
    """``sample(n, seed, codes) -> model-space images``; ``classifier(x) -> logits`` over ``num_labels``.
    Returns ``code_accuracy``, ``code_error`` and the matched label of each value (``code_label_<v>``)."""
    if per_value < 1 or num_values < 2:
        raise GanforgeError(f"categorical code accuracy needs >= 2 code values and >= 1 sample per value "
                            f"(got {num_values} values, {per_value} per value).")
    confusion = np.zeros((num_values, num_labels))
    for value in range(num_values):
        x = sample(per_value, seed + value, {code: value})
        predicted = torch.cat([classifier(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)])
        confusion[value] += np.bincount(predicted.cpu().numpy(), minlength=num_labels)[:num_labels]
    accuracy, mapping = matched_accuracy(confusion)
    return {"code_accuracy": accuracy, "code_error": 1.0 - accuracy,
            **{f"code_label_{v}": float(label) for v, label in enumerate(mapping)}}


@torch.no_grad()
def q_code_accuracy(discriminator, x: torch.Tensor, labels: torch.Tensor, num_values: int,
                    num_labels: int) -> dict[str, float]:
    """The paper's reading: Q's categorical code (the first ``num_values`` Q outputs) predicted on real
    model-space images ``x``, matched to their ``labels``."""
    was_training = discriminator.training
    discriminator.eval()
    try:
        predicted = torch.cat([discriminator(x[i:i + 512])[1][:, :num_values].argmax(1) for i in range(0, len(x), 512)])
    finally:
        discriminator.train(was_training)
    confusion = np.zeros((num_values, num_labels))
    np.add.at(confusion, (predicted.cpu().numpy(), labels.cpu().numpy()), 1)
    accuracy, _ = matched_accuracy(confusion)
    return {"q_accuracy": accuracy, "q_error": 1.0 - accuracy}


@METRICS.register("infogan-accuracy")
def infogan_accuracy(ctx) -> dict[str, float]:
    """``ganforge eval RUN --metrics infogan-accuracy``: needs an InfoGAN run with a categorical code and a
    labelled training set (the classifier's); ``--samples`` are spread over the code's values."""
    from ganforge.classifiers import pretrained

    gen, data = ctx.generator, ctx.train_dataset
    recipe = getattr(gen, "recipe", None)
    if recipe is None or not getattr(recipe, "n_cat", 0):
        raise GanforgeError("infogan-accuracy needs an InfoGAN run with a categorical code (recipe infogan, "
                            "options categorical >= 2).")
    if data is None or not data.num_classes:
        raise GanforgeError("infogan-accuracy needs a labelled training set for its classifier (e.g. --data mnist).")
    per_value = max(10, len(ctx.fake) // recipe.n_cat)
    return categorical_code_accuracy(lambda n, seed, codes: gen.sample(n, seed=seed, codes=codes),
                                     pretrained(data, "cnn"), recipe.n_cat, data.num_classes, per_value,
                                     seed=int(ctx.options.get("seed", 0)))
