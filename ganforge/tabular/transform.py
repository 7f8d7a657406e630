"""A whole table <-> float32 vectors, as in CTGAN, with an exact inverse and JSON state.

``TabularTransform.fit(frame, target="label")`` types every column (numeric -> continuous, text /
bool / category / low-cardinality integers -> categorical; ``column_types`` overrides), checks the
table (missing values, constant columns, non-numeric values in a numeric column, ...), and fits one
encoder per column. ``encode`` maps the *feature* columns to a float32 matrix; the target column, if
any, becomes integer labels (``encode_target``) because ganforge treats it as the class label the
generator is conditioned on and that classifiers predict. ``decode(x, labels)`` is the exact inverse:
same column order, dtypes, categories, and values (rounded to the decimals seen at fit time).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError
from ganforge.tabular.columns import CategoricalColumn, ContinuousColumn, column_from_state

STATE_VERSION = 1
COLUMN_TYPES = ("continuous", "categorical")
MAX_INTEGER_LEVELS = 10   # an integer column with at most this many values is typed categorical
NUMERIC_LOOKING = 0.9     # a text column whose values parse as numbers this often is a broken numeric column


@dataclass(frozen=True)
class Span:
    """A slice of the encoded vector and the activation the generator must put on it."""

    start: int
    end: int
    activation: str  # "tanh" (a normalised scalar) or "softmax" (a one-hot block)
    column: str
    role: str        # "scalar", "mode" or "category"


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (", ..." if len(rows) > limit else "")


def check_table(frame: pd.DataFrame, source: str = "the table") -> None:
    """Refuse tables that cannot be modelled, naming the problem and the fix."""
    if not isinstance(frame, pd.DataFrame):
        raise GanforgeError(f"tabular data must be a pandas DataFrame, got {type(frame).__name__}.")
    if frame.shape[1] == 0:
        raise GanforgeError(f"{source} has no columns; give a CSV with a header row and at least one column.")
    if len(frame) == 0:
        raise GanforgeError(f"{source} has a header but no rows; give at least a few rows of data.")
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise GanforgeError(f"{source} has duplicated column names {duplicated}; rename them.")
    numeric = frame.select_dtypes(include="number")
    infinite = [str(c) for c in numeric.columns if np.isinf(numeric[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise GanforgeError(f"{source} has infinite values in column(s) {infinite}; replace them with finite "
                            f"numbers or drop those rows first.")
    missing = frame.isna()
    if missing.to_numpy().any():
        worst = missing.sum()
        worst = worst[worst > 0]
        details = "; ".join(f"{col!r}: {int(n)} (rows {_rows(missing[col].to_numpy())})" for col, n in worst.items())
        raise GanforgeError(f"{source} has missing values ({details}); fill them in or drop those rows first.")


def infer_column_types(frame: pd.DataFrame, target: str | None = None,
                       overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Column name -> "continuous" | "categorical"; ``overrides`` wins over inference."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {str(c) for c in frame.columns})
    if unknown:
        raise GanforgeError(f"column type overrides name columns that are not in the table: {unknown}; "
                            f"the columns are {[str(c) for c in frame.columns]}.")
    for name, kind in overrides.items():
        if kind not in COLUMN_TYPES:
            raise GanforgeError(f"column type override {name!r}: {kind!r} is not one of {', '.join(COLUMN_TYPES)}.")
    types = {}
    for name in frame.columns:
        series = frame[name]
        name = str(name)
        if name in overrides:
            kind = overrides[name]
        elif name == target or series.dtype.kind == "b" or isinstance(series.dtype, pd.CategoricalDtype):
            kind = "categorical"
        elif series.dtype.kind in "iu":
            kind = "categorical" if series.nunique() <= MAX_INTEGER_LEVELS else "continuous"
        elif series.dtype.kind == "f":
            kind = "continuous"
        elif series.dtype.kind in "mM":
            raise GanforgeError(f"column {name!r} holds dates/times, which the tabular transform does not model; "
                                "convert it to a number (e.g. days since a date) or to text categories.")
        else:
            kind = "categorical"
            _refuse_broken_numeric(name, series, declared=False)
        if kind == "continuous" and series.dtype.kind not in "iuf":
            _refuse_broken_numeric(name, series, declared=True)
        types[name] = kind
    if target is not None and types.get(target) != "categorical":
        raise GanforgeError(f"target column {target!r} is declared continuous; the target is a class label "
                            "and must be categorical (ganforge models classification targets).")
    return types


def _refuse_broken_numeric(name: str, series: pd.Series, declared: bool) -> None:
    parsed = pd.to_numeric(series.astype(str).str.strip(), errors="coerce")
    bad = parsed.isna().to_numpy()
    if not bad.any():
        return  # numbers written as text: fine (a declared-continuous column is parsed at fit time)
    if declared or (1 - bad.mean()) >= NUMERIC_LOOKING:
        examples = ", ".join(repr(v) for v in pd.unique(series[bad])[:3])
        raise GanforgeError(
            f"column {name!r} is numeric but has non-numeric values {examples} (rows {_rows(bad)}); fix those "
            "cells, or declare the column categorical (options: {column_types: {" + name + ": categorical}}).")


class TabularTransform:
    """Fitted encoders for every column of a table (see the module docstring)."""

    def __init__(self, columns: list, order: list[str], target: str | None):
        self.columns = columns            # feature encoders, in table order (target excluded)
        self.order = order                # every column name in the original order
        self.target_column: CategoricalColumn | None = None
        self.target = target
        if target is not None:
            self.target_column = next(c for c in columns if c.name == target)
            self.columns = [c for c in columns if c.name != target]
        self.spans = self._spans()
        self.output_dim = self.spans[-1].end if self.spans else 0

    # --- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, frame: pd.DataFrame, target: str | None = None, column_types: dict[str, str] | None = None,
            seed: int = 0, max_modes: int = 10, mixture_iters: int = 100,
            source: str = "the table") -> "TabularTransform":
        check_table(frame, source)
        frame = frame.rename(columns=str)
        if target is not None and target not in frame.columns:
            raise GanforgeError(f"target column {target!r} is not in {source}; its columns are "
                                f"{list(frame.columns)}. Pass one of those with --target.")
        types = infer_column_types(frame, target, column_types)
        constant = [c for c in frame.columns if frame[c].nunique() < 2]
        if constant:
            raise GanforgeError(f"{source} has constant columns {constant} (one value in every row); "
                                "drop them: a constant carries no information to model.")
        if target is not None and len(frame.columns) == 1:
            raise GanforgeError(f"{source} has only the target column {target!r}; add feature columns.")
        columns = []
        for i, name in enumerate(frame.columns):
            series = frame[name]
            if types[name] == "continuous":
                if series.dtype.kind not in "iuf":
                    series = pd.to_numeric(series.astype(str).str.strip())
                columns.append(ContinuousColumn.fit(name, series, seed=seed + i, max_modes=max_modes,
                                                     mixture_iters=mixture_iters))
            else:
                columns.append(CategoricalColumn.fit(name, series))
        return cls(columns, list(frame.columns), target)

    def _spans(self) -> list[Span]:
        spans, start = [], 0
        for col in self.columns:
            if isinstance(col, ContinuousColumn):
                spans.append(Span(start, start + 1, "tanh", col.name, "scalar"))
                spans.append(Span(start + 1, start + col.width, "softmax", col.name, "mode"))
            else:
                spans.append(Span(start, start + col.width, "softmax", col.name, "category"))
            start += col.width
        return spans

    # --- encoding ------------------------------------------------------------------------
    @property
    def categorical_columns(self) -> list[CategoricalColumn]:
        """Feature columns the conditional vector ranges over (the target is the label, kept apart)."""
        return [c for c in self.columns if isinstance(c, CategoricalColumn)]

    @property
    def continuous_columns(self) -> list[ContinuousColumn]:
        return [c for c in self.columns if isinstance(c, ContinuousColumn)]

    def category_span(self, name: str) -> Span:
        return next(s for s in self.spans if s.column == name and s.role == "category")

    def _frame(self, frame: pd.DataFrame, need_target: bool) -> pd.DataFrame:
        check_table(frame, "the table to encode")
        frame = frame.rename(columns=str)
        wanted = [c.name for c in self.columns] + ([self.target] if need_target and self.target else [])
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise GanforgeError(f"the table to encode lacks the columns {missing} the transform was fitted with.")
        return frame

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature columns -> float32 (N, output_dim)."""
        frame = self._frame(frame, need_target=False)
        blocks = []
        for col in self.columns:
            series = frame[col.name]
            if isinstance(col, ContinuousColumn) and series.dtype.kind not in "iuf":
                _refuse_broken_numeric(col.name, series, declared=True)
                series = pd.to_numeric(series.astype(str).str.strip())
            blocks.append(col.encode(series))
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def encode_target(self, frame: pd.DataFrame) -> np.ndarray | None:
        if self.target_column is None:
            return None
        return self.target_column.codes(self._frame(frame, need_target=True)[self.target])

    def category_codes(self, x: np.ndarray) -> np.ndarray:
        """(N, number of categorical feature columns) category indices read from encoded rows."""
        spans = [self.category_span(c.name) for c in self.categorical_columns]
        if not spans:
            return np.zeros((len(x), 0), dtype=np.int64)
        return np.stack([np.asarray(x)[:, s.start:s.end].argmax(axis=1) for s in spans], axis=1)

    # --- decoding ------------------------------------------------------------------------
    def decode(self, x, labels=None) -> pd.DataFrame:
        """Encoded rows (+ target labels) -> a DataFrame like the one the transform was fitted on."""
        x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.output_dim:
            raise GanforgeError(f"cannot decode an array of shape {tuple(x.shape)}: the transform expects "
                                f"(rows, {self.output_dim}).")
        decoded, start = {}, 0
        for col in self.columns:
            decoded[col.name] = col.decode(x[:, start:start + col.width]).reset_index(drop=True)
            start += col.width
        if self.target_column is not None:
            if labels is None:
                raise GanforgeError(f"decoding needs the target labels for column {self.target!r}.")
            labels = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels, dtype=np.int64)
            if labels.shape != (len(x),) or labels.min(initial=0) < 0 or labels.max(initial=0) >= self.num_classes:
                raise GanforgeError(f"target labels must be {len(x)} integers in [0, {self.num_classes}).")
            decoded[self.target] = self.target_column.decode_codes(labels)
        return pd.DataFrame({name: decoded[name] for name in self.order})

    @property
    def num_classes(self) -> int:
        return self.target_column.width if self.target_column is not None else 0

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.target_column.categories] if self.target_column is not None else []

    # --- JSON state ----------------------------------------------------------------------
    def to_state(self) -> dict:
        columns = self.columns + ([self.target_column] if self.target_column is not None else [])
        by_name = {c.name: c.to_state() for c in columns}
        return {"version": STATE_VERSION, "target": self.target, "order": self.order,
                "columns": [by_name[name] for name in self.order]}

    @classmethod
    def from_state(cls, state: dict) -> "TabularTransform":
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise GanforgeError("the saved tabular transform is missing or from an incompatible ganforge version; "
                                "retrain the run with this version.")
        return cls([column_from_state(s) for s in state["columns"]], list(state["order"]), state["target"])
