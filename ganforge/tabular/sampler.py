"""Conditional vectors and training-by-sampling (CTGAN, Xu et al., 2019, section 4.3).

The conditional vector is ``[one-hot(label) | one-hot over every categorical feature column's
categories, with exactly one column active]``. In training, a conditioning column (the target or one
categorical feature) is picked uniformly, a category of it with probability proportional to
``log(1 + frequency)`` (so rare categories are seen often enough to be learnt), and a real row that
has this category; the row's label and the chosen category form the condition, and the real row is
what the discriminator compares against. At generation time conditions follow the data instead:
label ~ empirical frequency, then one feature column uniformly and its category ~ p(category | label).

The generation-time sampler needs only count tables (JSON, kept in the run) - not the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganforge.errors import GanforgeError


@dataclass
class Conditions:
    cond: np.ndarray      # float32 (n, cond_dim)
    labels: np.ndarray    # int64 (n,) (zeros when the table has no target)
    column: np.ndarray    # int64 (n,) index of the active feature column, -1 when none is active
    category: np.ndarray  # int64 (n,) the active column's category, -1 when none
    rows: np.ndarray | None = None  # int64 (n,) real rows that match (training only)


class ConditionSampler:
    def __init__(self, category_counts: list[int], num_classes: int, label_counts, pair_counts,
                 codes: np.ndarray | None = None, labels: np.ndarray | None = None):
        self.category_counts = [int(c) for c in category_counts]
        self.num_classes = int(num_classes)
        self.label_counts = np.asarray(label_counts, dtype=np.float64)
        # pair_counts[j][label, category]: rows with that label and that category of feature column j
        self.pair_counts = [np.asarray(p, dtype=np.float64) for p in pair_counts]
        self.offsets = np.concatenate([[0], np.cumsum(self.category_counts)]).astype(np.int64)
        self.cond_dim = self.num_classes + int(self.offsets[-1])
        self.codes, self.labels = codes, labels
        if codes is not None:
            self._index_rows()

    @classmethod
    def from_data(cls, codes: np.ndarray, category_counts: list[int], labels: np.ndarray | None,
                  num_classes: int) -> "ConditionSampler":
        """``codes``: (N, C) category index of each categorical feature column; ``labels``: (N,) or None."""
        codes = np.asarray(codes, dtype=np.int64).reshape(len(codes), -1)
        n = len(codes)
        label_array = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        rows_per_label = max(num_classes, 1)
        label_counts = np.bincount(label_array, minlength=rows_per_label)
        pair_counts = []
        for j, k in enumerate(category_counts):
            table = np.zeros((rows_per_label, k), dtype=np.int64)
            np.add.at(table, (label_array, codes[:, j]), 1)
            pair_counts.append(table)
        return cls(category_counts, num_classes, label_counts, pair_counts, codes, label_array)

    # --- training-by-sampling ------------------------------------------------------------
    def _index_rows(self) -> None:
        """Rows grouped by (conditioning column, category) as one sorted array + offsets (vectorised draws)."""
        keys = [self.labels] if self.num_classes else []
        keys += [self.codes[:, j] for j in range(self.codes.shape[1])]
        self.groups = []  # per conditioning column: (rows sorted by category, start of each category, counts)
        for key in keys:
            order = np.argsort(key, kind="stable")
            counts = np.bincount(key, minlength=int(key.max()) + 1)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            log_freq = np.log1p(counts.astype(np.float64))
            self.groups.append((order, starts, counts, log_freq / log_freq.sum()))

    def sample_train(self, n: int, rng: np.random.Generator) -> Conditions:
        if self.codes is None:
            raise GanforgeError("training-by-sampling needs the data; this sampler was rebuilt from counts only.")
        num_rows = len(self.codes)
        if not self.groups:  # no target, no categorical column: plain uniform rows, empty condition
            rows = rng.integers(0, num_rows, n)
            return Conditions(np.zeros((n, 0), np.float32), np.zeros(n, np.int64),
                              -np.ones(n, np.int64), -np.ones(n, np.int64), rows)
        which = rng.integers(0, len(self.groups), n)
        rows = np.empty(n, dtype=np.int64)
        chosen = np.empty(n, dtype=np.int64)
        for g, (order, starts, counts, probs) in enumerate(self.groups):
            sel = np.flatnonzero(which == g)
            if len(sel) == 0:
                continue
            cats = rng.choice(len(probs), size=len(sel), p=probs)
            picks = starts[cats] + (rng.random(len(sel)) * counts[cats]).astype(np.int64)
            rows[sel], chosen[sel] = order[picks], cats
        labels = self.labels[rows]
        feature_column = which - (1 if self.num_classes else 0)  # -1: the target was the conditioning column
        category = np.where(feature_column >= 0, chosen, -1)
        return Conditions(self.vectors(labels, feature_column, category), labels, feature_column, category, rows)

    # --- generation ----------------------------------------------------------------------
    def vectors(self, labels: np.ndarray, column: np.ndarray, category: np.ndarray) -> np.ndarray:
        n = len(labels)
        cond = np.zeros((n, self.cond_dim), dtype=np.float32)
        if self.num_classes:
            cond[np.arange(n), labels] = 1.0
        active = np.flatnonzero(column >= 0)
        cond[active, self.num_classes + self.offsets[column[active]] + category[active]] = 1.0
        return cond

    def sample_original(self, n: int, rng: np.random.Generator, label: int | None = None,
                        column: int | None = None, category: int | None = None) -> Conditions:
        """Conditions distributed like the data; optionally fix the label and/or one column's category."""
        num_columns = len(self.category_counts)
        if column is not None:
            cols = np.full(n, column, dtype=np.int64)
        elif num_columns:
            cols = rng.integers(0, num_columns, n)
        else:
            cols = -np.ones(n, dtype=np.int64)
        if label is not None:
            labels = np.full(n, label, dtype=np.int64)
        elif column is not None and category is not None:
            p = self.pair_counts[column][:, category]  # p(label | category)
            labels = rng.choice(len(p), size=n, p=p / p.sum())
        else:
            labels = rng.choice(len(self.label_counts), size=n, p=self.label_counts / self.label_counts.sum())
        cats = -np.ones(n, dtype=np.int64)
        if category is not None:
            cats[:] = category
        else:
            for j in range(num_columns):
                for lab in np.unique(labels[cols == j]):
                    sel = np.flatnonzero((cols == j) & (labels == lab))
                    p = self.pair_counts[j][lab]
                    if p.sum() == 0:  # a fixed label never seen with this column's values: use the marginal
                        p = self.pair_counts[j].sum(axis=0)
                    cats[sel] = rng.choice(len(p), size=len(sel), p=p / p.sum())
        if label is not None and column is not None and category is not None and self.num_classes:
            if self.pair_counts[column][label, category] == 0:
                raise GanforgeError("no real row has this label together with this category; the model never "
                                    "saw that combination, so it cannot be sampled. Condition on one of them.")
        labels = labels if self.num_classes else np.zeros(n, np.int64)
        return Conditions(self.vectors(labels, cols, cats), labels, cols, cats)

    # --- JSON state ----------------------------------------------------------------------
    def to_state(self) -> dict:
        return {"category_counts": self.category_counts, "num_classes": self.num_classes,
                "label_counts": self.label_counts.astype(np.int64).tolist(),
                "pair_counts": [p.astype(np.int64).tolist() for p in self.pair_counts]}

    @classmethod
    def from_state(cls, state: dict) -> "ConditionSampler":
        return cls(state["category_counts"], state["num_classes"], state["label_counts"], state["pair_counts"])
