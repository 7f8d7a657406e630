"""The ``tabular`` dataset: a CSV file (``--data-path``) or a pandas DataFrame, encoded by the CTGAN transform.

``x`` holds the encoded *feature* columns (float32, see ``ganforge.tabular.transform``); the target
column (``--target``) becomes the labels ``y``, so classifiers (BC-loss, compatibility metric) learn
to predict it from exactly the vectors the generator produces. ``decode(x, y)`` gives back a
DataFrame with the original columns, dtypes, categories and value ranges.

What a run must remember to decode without the CSV (``meta["tabular"]``, JSON): the transform's
state and the condition count tables. ``RESTORERS["tabular"]`` rebuilds the dataset from it.

Options (``cfg.options``, shared with the recipe's): ``column_types`` ({column: continuous |
categorical}), ``max_modes`` (mixture components per continuous column, default 10),
``mixture_iters`` (EM iterations, default 100), ``test_fraction`` (rows held out as the ``test``
split, default 0: train on everything), ``split_seed`` (default 0).
The fitted transform is cached in $GANFORGE_CACHE by the table's content hash (fitting dozens of
mixtures takes seconds; a benchmark trains the same table many times).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganforge.data.base import Batch, Dataset
from ganforge.errors import GanforgeError
from ganforge.tabular import ConditionSampler, TabularTransform

NAME = "tabular"
CACHE_VERSION = 1


class TabularDataset(Dataset):
    """A Dataset whose rows decode to a DataFrame; carries its transform and condition sampler."""

    transform: TabularTransform
    conditions: ConditionSampler

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray | None, transform: TabularTransform,
              conditions: ConditionSampler, source: str) -> "TabularDataset":
        meta = {"tabular": {"transform": transform.to_state(), "conditions": conditions.to_state(),
                            "source": source}}
        dataset = cls(NAME, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                      None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64)),
                      transform.num_classes, transform.class_names, meta, kind="table")
        dataset.transform, dataset.conditions = transform, conditions
        return dataset

    def make_sampler(self, batch_size: int, seed: int, device="cpu", rank: int = 0, world_size: int = 1,
                     channels_last: bool = False) -> "ConditionalRowSampler":
        """CTGAN's training-by-sampling instead of uniform rows (see ConditionalRowSampler)."""
        return ConditionalRowSampler(self, batch_size, seed, device, rank, world_size)

    def decode(self, x, y=None) -> pd.DataFrame:
        """Encoded rows (+ target labels when the table has a target) -> DataFrame like the source."""
        return self.transform.decode(x, y)

    def encode(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A DataFrame with the same columns -> (x, y) in this dataset's space (e.g. a held-out table)."""
        y = self.transform.encode_target(frame)
        return torch.from_numpy(self.transform.encode(frame)), None if y is None else torch.from_numpy(y)

    def subset(self, n: int | None, seed: int = 0) -> "TabularDataset":
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        out = TabularDataset(self.name, self.x[idx], None if self.y is None else self.y[idx],
                             self.num_classes, self.class_names, self.meta, kind="table")
        out.transform, out.conditions = self.transform, self.conditions
        return out


class ConditionalRowSampler:
    """Training-by-sampling (CTGAN): each batch draws a condition per row (a categorical column and one
    of its categories, by log-frequency; or the target class) and a real row that matches it.

    Batches carry ``x`` (encoded rows), ``y`` (target labels, when the table has a target), ``cond``
    (the condition vectors G and D see), ``column`` / ``category`` (what the conditional loss checks).
    Each draw is seeded by (seed, rank, batches drawn), so the position ``drawn`` is the whole state,
    as for the index sampler: resume is exact and ranks draw independently.
    """

    def __init__(self, dataset: "TabularDataset", batch_size: int, seed: int, device="cpu", rank: int = 0,
                 world_size: int = 1):
        if len(dataset) < batch_size:
            raise GanforgeError(f"the table has {len(dataset)} rows, fewer than one batch of {batch_size}; "
                                f"lower --batch-size.")
        self.dataset, self.batch_size, self.seed, self.rank = dataset, batch_size, seed, rank
        self.device = torch.device(device)
        self.drawn = 0
        self._x = dataset.x.to(self.device)
        self._y = None if dataset.y is None else dataset.y.to(self.device)

    def next(self) -> Batch:
        rng = np.random.default_rng([self.seed, self.rank, self.drawn])
        self.drawn += 1
        c = self.dataset.conditions.sample_train(self.batch_size, rng)
        as_tensor = lambda a: torch.from_numpy(a).to(self.device)  # noqa: E731
        rows = as_tensor(c.rows)
        kinds = {"x": "table", "y": "label", "cond": "vector", "column": "label", "category": "label"}
        return Batch(self._x[rows], None if self._y is None else self._y[rows], kinds=kinds, cond=as_tensor(c.cond),
                     column=as_tensor(c.column), category=as_tensor(c.category))


def read_csv(path: str | os.PathLike | None) -> pd.DataFrame:
    if not path:
        raise GanforgeError("the tabular dataset reads a CSV file: pass --data-path FILE.csv (and --target COLUMN "
                            "for a label column).")
    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "does not exist"
        raise GanforgeError(f"tabular data file {str(p)!r} {what}; pass the path of a CSV file to --data-path.")
    try:
        return pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise GanforgeError(f"tabular data file {str(p)!r} is empty; it needs a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        first = first.replace("Error tokenizing data. C error: ", "")  # (one "error:" per message)
        raise GanforgeError(f"tabular data file {str(p)!r} is not a readable CSV ({first}); fix the file "
                            "(comma-separated, one header row, UTF-8).") from None


def _options(cfg) -> dict:
    options = dict(getattr(cfg, "options", None) or {})
    column_types = options.get("column_types", {}) or {}
    if not isinstance(column_types, dict):
        raise GanforgeError("option 'column_types' must map column names to continuous or categorical, "
                            "e.g. --options '{column_types: {zip: categorical}}'.")
    out = {"column_types": {str(k): str(v) for k, v in column_types.items()}}
    for key, default, low, high in (("max_modes", 10, 1, 50), ("mixture_iters", 100, 1, 10_000),
                                    ("split_seed", 0, 0, 2**31)):
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise GanforgeError(f"option {key!r} is {value!r}; it must be an integer in [{low}, {high}].")
        out[key] = value
    fraction = options.get("test_fraction", 0.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise GanforgeError(f"option 'test_fraction' is {fraction!r}; it must be a number in [0, 1).")
    out["test_fraction"] = float(fraction)
    return out


def _cache_path(frame: pd.DataFrame, target: str | None, options: dict) -> Path | None:
    root = os.environ.get("GANFORGE_CACHE")
    if not root:
        return None
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, target, options["column_types"], options["max_modes"],
                         options["mixture_iters"], [str(c) for c in frame.columns],
                         [str(t) for t in frame.dtypes]]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return Path(root) / "tabular" / f"transform-{h.hexdigest()[:24]}.json"


def fit_transform(frame: pd.DataFrame, target: str | None, options: dict, source: str) -> TabularTransform:
    """The fitted transform, from the cache when this exact table was fitted before."""
    from ganforge.tabular.transform import check_table

    check_table(frame, source)  # before hashing: hashing tolerates what fitting must refuse
    cache = _cache_path(frame, target, options)
    if cache is not None and cache.is_file():
        try:
            return TabularTransform.from_state(json.loads(cache.read_text()))
        except (ValueError, KeyError, TypeError, GanforgeError):
            pass  # a stale or damaged cache entry is refitted and overwritten
    transform = TabularTransform.fit(frame, target=target, column_types=options["column_types"],
                                     max_modes=options["max_modes"], mixture_iters=options["mixture_iters"],
                                     source=source)
    if cache is not None:
        from ganforge.utils.files import atomic_write_text

        atomic_write_text(cache, json.dumps(transform.to_state()))
    return transform


def from_frame(frame: pd.DataFrame, cfg=None, split: str = "train", target: str | None = None,
               source: str = "the DataFrame") -> TabularDataset:
    """The tabular dataset of an in-memory DataFrame (``target`` defaults to ``cfg.target``).

    Train on it with ``ganforge.train.trainer.Trainer(cfg, dataset=from_frame(df, cfg)).fit()``.
    """
    options = _options(cfg)
    target = target if target is not None else getattr(cfg, "target", None)
    transform = fit_transform(frame, target, options, source)
    frame = frame.rename(columns=str)
    x, y = transform.encode(frame), transform.encode_target(frame)
    if options["test_fraction"] > 0:
        order = np.random.default_rng(options["split_seed"]).permutation(len(x))
        n_test = int(round(options["test_fraction"] * len(x)))
        if n_test < 1 or n_test >= len(x):
            raise GanforgeError(f"test_fraction {options['test_fraction']} leaves no rows in one split of "
                                f"{len(x)} rows; choose a fraction between {1 / len(x):.3g} and {1 - 1 / len(x):.3g}.")
        rows = np.sort(order[:n_test] if split == "test" else order[n_test:])
        x, y = x[rows], None if y is None else y[rows]
    elif split == "test":
        raise GanforgeError("the tabular dataset has no test split unless rows are held out: set "
                            "--options '{test_fraction: 0.2}' (the same value for training and evaluation).")
    conditions = ConditionSampler.from_data(transform.category_codes(x),
                                            [c.width for c in transform.categorical_columns], y, transform.num_classes)
    return TabularDataset.build(x, y, transform, conditions, source)


def load_tabular(cfg, split: str) -> TabularDataset:
    return from_frame(read_csv(cfg.data_path), cfg, split, source=f"tabular data file {str(cfg.data_path)!r}")


def restore_tabular(info: dict) -> TabularDataset:
    """A decoder-only dataset from a run's data.json (one placeholder row): no CSV needed."""
    try:
        state = info["meta"]["tabular"]
        transform = TabularTransform.from_state(state["transform"])
        conditions = ConditionSampler.from_state(state["conditions"])
    except (KeyError, TypeError):
        raise GanforgeError("this run's data record lacks the tabular transform; it was written by an "
                            "incompatible ganforge version. Retrain it.") from None
    x = np.zeros((1, transform.output_dim), dtype=np.float32)
    y = np.zeros(1, dtype=np.int64) if transform.num_classes else None
    return TabularDataset.build(x, y, transform, conditions, state.get("source", "a saved run"))


def _register() -> None:
    from ganforge.data import DATASETS, RESTORERS

    from ganforge.options import Option

    DATASETS.register(NAME, options={
        "column_types": Option(dict, {}, "{column: continuous | categorical} overrides"),
        "max_modes": Option(int, 10, "Gaussian-mixture modes per continuous column"),
        "mixture_iters": Option(int, 100, "mixture fitting iterations"),
        "split_seed": Option(int, 0, "seed of the train/test split"),
        "test_fraction": Option((int, float), 0.0, "held-out fraction")})(load_tabular)
    RESTORERS[NAME] = restore_tabular


_register()
