"""The CTGAN column transform: exact inverse, JSON state, typing, and clear errors on bad tables."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import GanforgeError
from ganforge.tabular import TabularTransform, infer_column_types
from ganforge.tabular.synthetic import adult_like

ITERS = 20  # mixture EM iterations: exactness does not depend on how well the modes are fitted


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = adult_like(600, seed=1)
    frame["ratio"] = np.round(np.random.default_rng(1).gamma(2.0, 0.3, len(frame)), 4).astype(np.float32)
    frame["flag"] = frame["age"] > 40  # bool
    frame["grade"] = (frame["age"] // 20).astype(np.int64)  # few integer levels -> categorical
    return frame


@pytest.fixture(scope="module")
def fitted(table) -> TabularTransform:
    return TabularTransform.fit(table, target="income", mixture_iters=ITERS)


def test_round_trip_is_exact_for_every_dtype(table, fitted):
    x = fitted.encode(table)
    assert x.dtype == np.float32 and x.shape == (len(table), fitted.output_dim)
    decoded = fitted.decode(x, fitted.encode_target(table))
    pd.testing.assert_frame_equal(decoded, table, check_exact=True)  # values, dtypes, order, categories
    assert list(decoded["relationship"].cat.categories) == ["Husband", "Not-in-family", "Own-child"]


def test_round_trip_is_exact_on_a_real_dataset():
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    transform = TabularTransform.fit(wine, target="target", mixture_iters=ITERS)
    decoded = transform.decode(transform.encode(wine), transform.encode_target(wine))
    pd.testing.assert_frame_equal(decoded, wine, check_exact=True)


def test_round_trip_through_csv_text(table):
    csv = table.drop(columns=["ratio"]).to_csv(index=False)
    frame = pd.read_csv(io.StringIO(csv))
    transform = TabularTransform.fit(frame, target="income", mixture_iters=ITERS)
    decoded = transform.decode(transform.encode(frame), transform.encode_target(frame))
    assert decoded.to_csv(index=False) == csv


def test_json_state_rebuilds_an_identical_transform(table, fitted):
    state = json.loads(json.dumps(fitted.to_state()))  # must be plain JSON: no numpy, no pickles
    rebuilt = TabularTransform.from_state(state)
    x = fitted.encode(table)
    assert np.array_equal(rebuilt.encode(table), x)
    pd.testing.assert_frame_equal(rebuilt.decode(x, fitted.encode_target(table)),
                                  fitted.decode(x, fitted.encode_target(table)), check_exact=True)
    assert rebuilt.spans == fitted.spans and rebuilt.class_names == ["<=50K", ">50K"]


def test_mode_specific_normalisation_finds_the_modes_of_a_bimodal_column():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(-10, 1, 400), rng.normal(10, 1, 400)]).round(3)
    frame = pd.DataFrame({"v": values, "c": rng.choice(["a", "b"], 800)})
    column = TabularTransform.fit(frame, mixture_iters=100).columns[0]
    assert column.num_modes >= 2
    modes = column.modes_of(values)
    assert len(set(modes[values < 0]) & set(modes[values > 0])) == 0  # the two bumps never share a mode
    encoded = column.encode(frame["v"])
    assert np.abs(encoded[:, 0]).max() < 1.5  # alpha = (x - mu) / 4 sigma stays near [-1, 1]


def test_decoding_any_vector_keeps_types_categories_and_ranges(table, fitted):
    noise = np.random.default_rng(0).normal(0, 3, (500, fitted.output_dim)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, fitted.num_classes, 500)
    out = fitted.decode(noise, labels)
    assert list(out.columns) == list(table.columns)
    assert (out.dtypes == table.dtypes).all()
    for name in table.columns:
        if name in ("age", "capital_gain", "hours_per_week", "score", "ratio"):
            assert out[name].min() >= table[name].min() and out[name].max() <= table[name].max()
        else:
            assert set(out[name].unique()) <= set(table[name].unique())
    assert np.array_equal(out["score"], out["score"].round(2))  # decimals kept


def test_type_inference_and_overrides(table):
    types = infer_column_types(table, target="income")
    assert types["age"] == "continuous" and types["score"] == "continuous"
    assert types["grade"] == "categorical" and types["flag"] == "categorical" and types["sex"] == "categorical"
    assert types["income"] == "categorical"
    overridden = infer_column_types(table, "income", {"grade": "continuous", "age": "categorical"})
    assert overridden["grade"] == "continuous" and overridden["age"] == "categorical"


@pytest.mark.parametrize("frame, kwargs, words", [
    (pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", "y", "z"]}), {}, ["missing", "'a'", "rows 1"]),
    (pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "x", "x"]}), {}, ["constant", "'b'", "drop"]),
    (pd.DataFrame({"a": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "1O"]}), {}, ["non-numeric", "'1O'", "row"]),
    (pd.DataFrame({"a": ["x", "y"]}), {"column_types": {"a": "continuous"}}, ["non-numeric", "'x'"]),
    (pd.DataFrame({"a": [], "b": []}), {}, ["no rows"]),
    (pd.DataFrame(), {}, ["no columns"]),
    (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), {"target": "label"}, ["target column 'label'", "--target"]),
    (pd.DataFrame({"a": [1.0, 2.0, 3.5], "b": ["x", "y", "x"]}), {"target": "a", "column_types": {"a": "continuous"}},
     ["categorical"]),
    (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), {"column_types": {"zz": "categorical"}}, ["'zz'"]),
    (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), {"column_types": {"a": "ordinal"}}, ["'ordinal'"]),
    (pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-01-01"]), "b": ["x", "y"]}), {}, ["dates"]),
])
def test_bad_tables_give_one_clear_error(frame, kwargs, words):
    with pytest.raises(GanforgeError) as err:
        TabularTransform.fit(frame, mixture_iters=ITERS, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_unknown_category_when_encoding_is_a_clear_error(table, fitted):
    other = table.head(3).copy()
    other["workclass"] = ["Private", "Astronaut", "Gov"]
    with pytest.raises(GanforgeError, match="'Astronaut'.*known categories"):
        fitted.encode(other)
