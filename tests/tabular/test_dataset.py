"""The ``tabular`` dataset: CSV -> encoded vectors + labels, clear errors, and a decoder rebuilt from JSON."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.config import make_config
from ganforge.data import load_dataset, restore_dataset
from ganforge.errors import GanforgeError
from ganforge.tabular.synthetic import adult_like

FAST = {"mixture_iters": 20}


def config(path, **kw):
    return make_config({"data": "tabular", "data_path": str(path), "options": FAST, **kw})


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tab") / "adult.csv"
    adult_like(400, seed=3).to_csv(path, index=False)
    return path


def test_csv_becomes_encoded_rows_with_the_target_as_labels(adult_csv):
    data = load_dataset(config(adult_csv, target="income"))
    frame = pd.read_csv(adult_csv)
    assert data.kind == "table" and data.x.dtype.is_floating_point and data.x.shape[0] == 400
    assert data.num_classes == 2 and data.class_names == ["<=50K", ">50K"]
    assert np.array_equal(data.y.numpy(), (frame["income"] == ">50K").to_numpy().astype(int))
    assert data.to_model(data.x) is not None and data.from_model(data.x).shape == data.x.shape
    pd.testing.assert_frame_equal(data.decode(data.x, data.y), frame, check_exact=True)


def test_a_run_rebuilds_the_decoder_from_json_alone(adult_csv, tmp_path):
    from ganforge.train.state import dataset_info

    data = load_dataset(config(adult_csv, target="income"))
    info = json.loads(json.dumps(dataset_info(data)))  # what the run folder keeps
    moved = tmp_path / "gone.csv"
    adult_csv.rename(moved)  # the CSV is not needed any more
    try:
        restored = restore_dataset(info)
        pd.testing.assert_frame_equal(restored.decode(data.x, data.y), data.decode(data.x, data.y), check_exact=True)
        assert restored.shape == data.shape and restored.num_classes == 2
    finally:
        moved.rename(adult_csv)


def test_held_out_split(adult_csv):
    options = {**FAST, "test_fraction": 0.25}
    train = load_dataset(config(adult_csv, target="income", options=options), "train")
    test = load_dataset(config(adult_csv, target="income", options=options), "test")
    assert len(train) == 300 and len(test) == 100
    rows = {tuple(r) for r in train.x.numpy().round(5)}
    assert sum(tuple(r) in rows for r in test.x.numpy().round(5)) < 5  # disjoint rows (up to duplicates)
    with pytest.raises(GanforgeError, match="test_fraction"):
        load_dataset(config(adult_csv, target="income"), "test")


def test_no_target_means_no_labels(adult_csv):
    data = load_dataset(config(adult_csv))
    assert data.y is None and data.num_classes == 0
    pd.testing.assert_frame_equal(data.decode(data.x), pd.read_csv(adult_csv), check_exact=True)


@pytest.mark.parametrize("text, kw, words", [
    ("a,b\n1,x\n2,y\nthree,x\n4,y\n5,x\n6,y\n7,x\n8,y\n9,x\n10,y\n", {}, ["non-numeric", "'three'", "'a'"]),
    ("a,b\n1,x\n,y\n3,x\n", {}, ["missing", "'a'"]),
    ("a,b\n1,x\n2,x\n", {}, ["constant", "'b'"]),
    ("a,b\n", {}, ["no rows"]),
    ("", {}, ["empty"]),
    ("a,b\n1,x\n2,y\n", {"target": "label"}, ["target column 'label'", "['a', 'b']"]),
])
def test_bad_csv_files_give_one_clear_error(tmp_path, text, kw, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(GanforgeError) as err:
        load_dataset(config(path, **kw))
    for word in words:
        assert word in str(err.value)


def test_missing_file_and_missing_path(tmp_path):
    with pytest.raises(GanforgeError, match="does not exist"):
        load_dataset(config(tmp_path / "nope.csv"))
    with pytest.raises(GanforgeError, match="--data-path"):
        load_dataset(make_config({"data": "tabular"}))
