"""A documented, seeded mixed numeric/categorical table for tests and benchmarks (no download).

``adult_like(n_rows, seed)`` imitates the shape of the UCI Adult census table (ints, a zero-inflated
amount, a two-decimal float, text categories, a pandas ``category`` column, an imbalanced binary
income label) without any network access. It is built from scikit-learn's ``make_classification``
(Guyon's Madelon-style generator: informative features drawn from Gaussian clusters per class):

* 8 features, 5 informative, 1 redundant, 2 classes weighted 75/25, 2% flipped labels;
* ``age`` = clip(round(38 + 13 f0), 17, 90) and ``hours_per_week`` = clip(round(40 + 12 f1), 1, 99) (int64);
* ``capital_gain`` = round(exp(7 + f3)) where f2 > 1.2, else 0 (int64, zero-inflated, multimodal);
* ``score`` = round(50 + 10 f5, 2) (float64 with two decimals);
* ``workclass`` (4 levels) and ``education`` (5 levels): f6 / f7 cut at fixed quantiles (text);
* ``sex``: "Male" where f0 + N(0, 1) > -0.3 else "Female" (text);
* ``relationship``: f4 cut in 3 (pandas category dtype);
* ``income``: "<=50K" / ">50K" from the class label (the target).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def adult_like(n_rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    f, label = make_classification(n_samples=n_rows, n_features=8, n_informative=5, n_redundant=1,
                                   n_classes=2, weights=[0.75, 0.25], flip_y=0.02, random_state=seed)
    rng = np.random.default_rng(seed)

    def cut(values, names, quantiles):
        edges = np.quantile(values, quantiles)
        return np.asarray(names, dtype=object)[np.searchsorted(edges, values)]

    return pd.DataFrame({
        "age": np.clip(np.rint(38 + 13 * f[:, 0]), 17, 90).astype(np.int64),
        "workclass": cut(f[:, 6], ["Private", "Self-emp", "Gov", "Other"], [0.6, 0.75, 0.9]),
        "education": cut(f[:, 7], ["HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate"],
                         [0.35, 0.6, 0.85, 0.96]),
        "relationship": pd.Categorical(cut(f[:, 4], ["Husband", "Not-in-family", "Own-child"], [0.45, 0.8]),
                                       categories=["Husband", "Not-in-family", "Own-child"]),
        "sex": np.where(f[:, 0] + rng.normal(size=n_rows) > -0.3, "Male", "Female").astype(object),
        "capital_gain": np.where(f[:, 2] > 1.2, np.rint(np.exp(7 + f[:, 3])), 0).astype(np.int64),
        "hours_per_week": np.clip(np.rint(40 + 12 * f[:, 1]), 1, 99).astype(np.int64),
        "score": np.round(50 + 10 * f[:, 5], 2),
        "income": np.where(label == 1, ">50K", "<=50K").astype(object),
    })
