"""Per-column encoders of the CTGAN transform (Xu et al., 2019, "Modeling Tabular Data using
Conditional GAN", section 4.2).

* ``ContinuousColumn``: mode-specific normalisation. A variational (Dirichlet-process) Gaussian
  mixture from scikit-learn finds the modes of the column; a value ``x`` becomes
  ``(alpha, one-hot(mode))`` with ``alpha = (x - mu_mode) / (4 sigma_mode)``.
* ``CategoricalColumn``: a one-hot vector over the categories seen at fit time.

Both keep everything they need as plain JSON (``to_state`` / ``from_state``): after fitting, the
sklearn mixture is no longer needed because the mode posterior is computed here from the stored
weights, means and standard deviations, so a run can encode and decode without the original CSV.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError

MAX_DECIMALS = 12           # a float column with more decimals than this is decoded unrounded
FIT_ROWS_CAP = 5_000        # the mixture is fitted on at most this many rows (speed; modes are stable)
MODE_WEIGHT_THRESHOLD = 0.005  # CTGAN drops mixture components lighter than this


def _decimals(values: np.ndarray) -> int | None:
    """Smallest number of decimals that writes every value exactly (None: more than MAX_DECIMALS).

    Decoding rounds to it, which is what makes the inverse transform exact for data written with
    finitely many decimals (every CSV), despite the float32 encoded space. float32 columns are read
    through their shortest decimal form (0.1f is 0.1, not 0.10000000149).
    """
    if values.dtype == np.float32:
        values = values.astype(str).astype(np.float64)
    values = values.astype(np.float64)
    for d in range(MAX_DECIMALS + 1):
        scaled = values * 10.0**d
        # a float64 product is within a few ulps of the integer it should be (relative 1e-16)
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-12 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


def _to_json_value(value):
    """numpy scalars -> Python scalars so that categories survive json.dumps."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _sort_key(value):
    return (type(value).__name__, value)


class ContinuousColumn:
    kind = "continuous"

    def __init__(self, name: str, dtype: str, is_integer: bool, decimals: int | None,
                 minimum: float, maximum: float, weights, means, stds):
        self.name, self.dtype, self.is_integer, self.decimals = name, dtype, is_integer, decimals
        self.minimum, self.maximum = float(minimum), float(maximum)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.stds = np.asarray(stds, dtype=np.float64)

    @property
    def num_modes(self) -> int:
        return len(self.means)

    @property
    def width(self) -> int:
        return 1 + self.num_modes

    @classmethod
    def fit(cls, name: str, series: pd.Series, seed: int, max_modes: int = 10,
            mixture_iters: int = 100) -> "ContinuousColumn":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        values = series.to_numpy(dtype=np.float64)
        is_integer = series.dtype.kind in "iu"
        decimals = 0 if is_integer else _decimals(series.to_numpy())
        rng = np.random.default_rng(seed)
        fit_values = values if len(values) <= FIT_ROWS_CAP else rng.choice(values, FIT_ROWS_CAP, replace=False)
        n_components = int(min(max_modes, len(np.unique(fit_values))))
        mixture = BayesianGaussianMixture(
            n_components=n_components, weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001, n_init=1, max_iter=mixture_iters, random_state=seed)
        with warnings.catch_warnings():
            # a handful of EM iterations is all CTGAN uses too; non-convergence only shifts the modes a bit
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(fit_values.reshape(-1, 1))
        keep = mixture.weights_ > MODE_WEIGHT_THRESHOLD
        if not keep.any():
            keep = mixture.weights_ == mixture.weights_.max()
        scale = max(float(values.std()), 1e-12)
        # floor the spread so that a mode sitting on one repeated value (e.g. zero-inflation) divides safely
        stds = np.maximum(np.sqrt(mixture.covariances_.reshape(-1)[keep]), 1e-6 * scale)
        order = np.argsort(mixture.means_.reshape(-1)[keep])  # modes sorted by mean: stable, readable state
        weights = mixture.weights_[keep][order]
        return cls(name, str(series.dtype), is_integer, decimals, values.min(), values.max(),
                   weights / weights.sum(), mixture.means_.reshape(-1)[keep][order], stds[order])

    def modes_of(self, values: np.ndarray) -> np.ndarray:
        """Most probable mixture component of each value (the posterior argmax)."""
        z = (values[:, None] - self.means[None, :]) / self.stds[None, :]
        log_posterior = np.log(self.weights)[None, :] - np.log(self.stds)[None, :] - 0.5 * z * z
        return log_posterior.argmax(axis=1)

    def encode(self, series: pd.Series) -> np.ndarray:
        values = series.to_numpy(dtype=np.float64)
        modes = self.modes_of(values)
        out = np.zeros((len(values), self.width), dtype=np.float64)
        # alpha is not clipped: an outlier beyond 4 sigma keeps |alpha| > 1 so the inverse stays exact
        out[:, 0] = (values - self.means[modes]) / (4.0 * self.stds[modes])
        out[np.arange(len(values)), 1 + modes] = 1.0
        return out

    def decode(self, block: np.ndarray) -> pd.Series:
        block = np.asarray(block, dtype=np.float64)
        modes = block[:, 1:].argmax(axis=1)
        values = block[:, 0] * 4.0 * self.stds[modes] + self.means[modes]
        values = np.clip(values, self.minimum, self.maximum)  # synthetic values stay in the seen range
        if self.is_integer:
            values = np.rint(values)
        elif self.decimals is not None:
            values = np.round(values, self.decimals)
        return pd.Series(values, name=self.name).astype(self.dtype)

    def to_state(self) -> dict:
        return {"kind": self.kind, "name": self.name, "dtype": self.dtype, "is_integer": self.is_integer,
                "decimals": self.decimals, "minimum": self.minimum, "maximum": self.maximum,
                "weights": self.weights.tolist(), "means": self.means.tolist(), "stds": self.stds.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "ContinuousColumn":
        return cls(state["name"], state["dtype"], state["is_integer"], state["decimals"], state["minimum"],
                   state["maximum"], state["weights"], state["means"], state["stds"])


class CategoricalColumn:
    kind = "categorical"

    def __init__(self, name: str, dtype: str, categories: list, counts: list[int]):
        self.name, self.dtype = name, dtype
        self.categories = list(categories)
        self.counts = [int(c) for c in counts]
        self._index = {value: i for i, value in enumerate(self.categories)}

    @property
    def width(self) -> int:
        return len(self.categories)

    @classmethod
    def fit(cls, name: str, series: pd.Series) -> "CategoricalColumn":
        if isinstance(series.dtype, pd.CategoricalDtype):
            # keep the user's category order, dropping categories that never occur
            present = set(series.unique())
            categories = [_to_json_value(c) for c in series.cat.categories if c in present]
        else:
            categories = sorted((_to_json_value(v) for v in series.unique()), key=_sort_key)
        column = cls(name, str(series.dtype), categories, [0] * len(categories))
        column.counts = np.bincount(column.codes(series), minlength=len(categories)).tolist()
        return column

    def codes(self, series: pd.Series) -> np.ndarray:
        """Category index of each value; an unseen category is a clear error."""
        values = [_to_json_value(v) for v in series.tolist()]
        try:
            return np.fromiter((self._index[v] for v in values), dtype=np.int64, count=len(values))
        except KeyError:
            unknown = sorted({v for v in values if v not in self._index}, key=_sort_key)
            raise GanforgeError(
                f"column {self.name!r} has categories not seen when the transform was fitted: "
                f"{', '.join(map(repr, unknown[:5]))}; known categories are "
                f"{', '.join(map(repr, self.categories[:20]))}. Use one of those, or refit on data that "
                "contains the new categories.") from None

    def code_of(self, value) -> int:
        return int(self.codes(pd.Series([value]))[0])

    def encode(self, series: pd.Series) -> np.ndarray:
        codes = self.codes(series)
        out = np.zeros((len(codes), self.width), dtype=np.float64)
        out[np.arange(len(codes)), codes] = 1.0
        return out

    def decode_codes(self, codes: np.ndarray) -> pd.Series:
        values = [self.categories[int(i)] for i in codes]
        if self.dtype == "category":
            return pd.Series(pd.Categorical(values, categories=self.categories), name=self.name)
        return pd.Series(values, name=self.name, dtype=object).astype(self.dtype)

    def decode(self, block: np.ndarray) -> pd.Series:
        return self.decode_codes(np.asarray(block).argmax(axis=1))

    def to_state(self) -> dict:
        return {"kind": self.kind, "name": self.name, "dtype": self.dtype,
                "categories": self.categories, "counts": self.counts}

    @classmethod
    def from_state(cls, state: dict) -> "CategoricalColumn":
        categories = state["categories"]
        if state["dtype"] not in ("object", "str", "string", "category", "bool"):
            # JSON keeps ints and floats apart, but a float category like 1.0 may come back as 1
            categories = [float(c) if state["dtype"].startswith("float") else c for c in categories]
        return cls(state["name"], state["dtype"], categories, state["counts"])


def column_from_state(state: dict):
    if state.get("kind") == "continuous":
        return ContinuousColumn.from_state(state)
    if state.get("kind") == "categorical":
        return CategoricalColumn.from_state(state)
    raise GanforgeError(f"unknown tabular column kind {state.get('kind')!r} in a saved transform; "
                        "the run was written by an incompatible version of ganforge.")

