"""Property-based hostile inputs: the config parser and the command line never fail with anything but
a GanforgeError (CLI: exit code 2, one message), and what they accept is valid.

Kept cheap: the CLI examples never train (``Trainer`` is replaced by a stub that stops as soon as the
configuration has been accepted) and ``sample`` gets paths that do not hold a run.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganforge.cli import main
from ganforge.config import FIELDS, Config, make_config, validate
from ganforge.errors import GanforgeError

KEYS = sorted(FIELDS)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "0", "1", "-1", "1e9", "nan", "inf", "true", "off", "{a: 1}", "[1, 2", "dcgan", "cpu",
                     "toy-ring", "../../etc/passwd", "a\x00b", "!!python/object:os.system", "rollback"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))
KEY = st.one_of(st.sampled_from(KEYS), st.sampled_from([k.replace("_", "-") for k in KEYS]), st.text(max_size=10),
                st.integers())


def _default(key):
    f = FIELDS[key]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _plausible(key):
    """A value the key accepts (its default, as given or as CLI text), so that many examples get through
    the parser and the *accepted* side of the property is exercised too."""
    value = _default(key)
    return st.sampled_from([value, str(value)] if value is not None and not isinstance(value, dict) else [value])


# key -> mostly plausible values, sometimes hostile ones
ENTRY = st.sampled_from(KEYS).flatmap(lambda k: st.tuples(st.just(k), st.one_of(_plausible(k), _plausible(k), VALUES)))
LAYER = st.one_of(st.lists(ENTRY, max_size=6).map(dict), st.dictionaries(KEY, VALUES, max_size=4))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(LAYER, max_size=3))
def test_make_config_accepts_valid_or_raises_ganforge_error(layers):
    try:
        cfg = make_config(*layers)
    except GanforgeError as e:
        assert str(e)  # a message, not an empty error
        return
    assert isinstance(cfg, Config)
    validate(cfg)  # what was accepted is valid...
    for f in dataclasses.fields(cfg):  # ...and typed as declared
        value = getattr(cfg, f.name)
        if isinstance(value, float):
            assert math.isfinite(value)
        assert value is None or "None" in str(f.type) or type(value).__name__ in str(f.type), (f.name, value)
    assert make_config(cfg.to_dict()) == cfg  # and round-trips


class _WouldTrain(Exception):
    pass


class _StubTrainer:
    """Stands in for Trainer: checks the names the real one looks up first, then stops (no training)."""

    def __init__(self, cfg, resume=False, **kw):
        from ganforge.data import DATASETS
        from ganforge.recipes import RECIPES

        validate(cfg)
        RECIPES.get(cfg.recipe)
        DATASETS.get(cfg.data)
        raise _WouldTrain


FLAGS = ["--" + k.replace("_", "-") for k in KEYS] + ["--config", "--resume"]
TOKENS = st.one_of(st.sampled_from(FLAGS), SCALARS.map(str), st.sampled_from(["-n", "--out", "--class", "--seed"]))
# --flag value pairs, the value mostly plausible: many command lines reach the (stub) trainer
FLAG_PAIRS = st.sampled_from([k for k in KEYS if _default(k) is not None and k != "options"]).flatmap(
    lambda k: st.tuples(st.just("--" + k.replace("_", "-")), st.one_of(_plausible(k).map(str), SCALARS.map(str))))
ARGV = st.lists(st.one_of(FLAG_PAIRS, FLAG_PAIRS, TOKENS.map(lambda t: (t,))), max_size=6).map(
    lambda parts: [token for part in parts for token in part])


@pytest.fixture
def no_training(monkeypatch, tmp_path):
    import importlib

    trainer = importlib.import_module("ganforge.train.trainer")  # (ganforge.train is also a function)
    monkeypatch.setattr(trainer, "Trainer", _StubTrainer)
    monkeypatch.chdir(tmp_path)  # any file an example might name or write lands here


def _run(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse: --help (0), usage errors (2)
        return e.code
    except _WouldTrain:
        return "accepted"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=ARGV)
def test_train_command_line_never_tracebacks(no_training, capsys, argv):
    code = _run(["train", *argv])
    out, err = capsys.readouterr()
    assert code in (0, 2, "accepted"), (argv, code, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert "error:" in err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["sample", "list", "--version", "nonsense", ""]), argv=st.lists(TOKENS, max_size=6))
def test_other_commands_never_traceback(no_training, capsys, command, argv):
    code = _run([command, *argv] if command else argv)
    out, err = capsys.readouterr()
    assert code in (0, 2), (command, argv, code, err)
    assert "Traceback" not in out + err
