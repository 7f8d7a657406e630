"""Property-based tests (hypothesis), key by key and flag by flag (issue 18).

``test_hostile_inputs.py`` throws random *layers* of keys at ``make_config``; here every key gets its own
run of arbitrary values, and the command lines go further than a stub: the real ``Trainer`` is built
(data, networks, seeding, guards), only ``fit`` is replaced, so a value that passes the parser but breaks
what comes after it (a seed too large for torch, a device this machine lacks) shows up. ``sample`` gets
arbitrary -n/--seed/--class/--nrow/--out/--device on a real tiny run.

The property each time: exit code 0/accepted or 2 with one ``ganforge: error:`` line, never a traceback.
Kept fast: modest ``max_examples``, tiny networks, toy data; no training step runs.
"""
from __future__ import annotations

import dataclasses
import importlib
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ganforge.cli import main
from ganforge.config import FIELDS, Config, make_config, validate
from ganforge.errors import GanforgeError
from tests.reliability.catalogue import TOY

KEYS = sorted(FIELDS)

EDGE_TEXT = ["", " ", "0", "-0", "1", "-1", "7 ", "1_000", "0x10", "1e3", "1e-300", "1e400", "-1e400", "nan", "-inf",
             "2", "TRUE", "On", "no", "null", "~", "{}", "[]", "{a: {b: [1]}}", "[1, 2", "!!binary aGk=",
             "!!python/object/apply:os.system [ls]", "a\x00b", "\x1b[31m", "x" * 5000, "9" * 5000, "é", "../../etc",
             str(2**31), str(2**63), str(2**64), str(-(2**63) - 1), str(10**30)]
EDGE = st.one_of(
    st.sampled_from(EDGE_TEXT), st.none(), st.booleans(), st.integers(), st.floats(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 1e308, -0.0, 0.5, 1e-320]),
    st.text(max_size=20), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                               max_size=2),
)


def _default(key):
    f = FIELDS[key]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=15, deadline=None)
@given(value=EDGE)
def test_every_config_key_takes_any_value_or_refuses_it(key, value):
    """Any value of any key: a valid, typed Config, or a GanforgeError with a one-line message."""
    try:
        cfg = make_config({key: value})
    except GanforgeError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(cfg, Config)
    validate(cfg)
    got = getattr(cfg, key)
    if isinstance(got, float):
        assert math.isfinite(got)
    if isinstance(got, int) and key == "seed":
        assert 0 <= got < 2**63
    assert make_config(cfg.to_dict()) == cfg


class _Built(Exception):
    """Raised in place of training: the Trainer was fully built from the accepted configuration."""


@pytest.fixture
def built_not_trained(monkeypatch, tmp_path):
    trainer = importlib.import_module("ganforge.train.trainer")  # (ganforge.train is also a function)

    def fit(self):
        raise _Built

    monkeypatch.setattr(trainer.Trainer, "fit", fit)
    monkeypatch.chdir(tmp_path)  # any file an example might name lands here


def _run(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse: usage errors (2)
        return e.code
    except _Built:
        return "built"


def _check(code, capsys, argv):
    event(f"exit {code}")  # the mix of accepted/refused examples: pytest --hypothesis-show-statistics
    out, err = capsys.readouterr()
    assert code in (0, 2, "built"), (argv, code, err[-2000:])
    assert "Traceback" not in out + err
    if code == 2:
        message = err.strip().splitlines()[-1]
        assert message.startswith("ganforge: error:") and message.isprintable(), message[:300]


# Flags whose values pick other input surfaces (data files, run folders): covered by the catalogues.
NOT_HERE = {"data", "data_dir", "data_path", "out", "target", "options", "tensorboard", "compile"}
FLAG_KEYS = [k for k in KEYS if k not in NOT_HERE]


def _value_text(key):
    default = _default(key)
    plausible = [str(default)] if default is not None else []
    return st.one_of(st.sampled_from(plausible or EDGE_TEXT), st.sampled_from(EDGE_TEXT), EDGE.map(str))


FLAG = st.sampled_from(FLAG_KEYS).flatmap(lambda k: st.tuples(st.just("--" + k.replace("_", "-")), _value_text(k)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.lists(FLAG, min_size=1, max_size=3))
def test_train_flags_build_a_real_trainer_or_fail_cleanly(built_not_trained, capsys, flags):
    argv = ["train", *TOY, "--out", "run", *[token for pair in flags for token in pair]]
    _check(_run(argv), capsys, argv)


HOSTILE_INT = st.sampled_from([-3, -1, 2**63, 2**80, -(2**63)])
SAMPLE_N = st.one_of(st.integers(1, 40), st.integers(1, 40),
                     st.sampled_from(["0", "-3", str(10**7 + 1), str(2**70), "many", "1e3"]))
SAMPLE_OUT = st.one_of(st.sampled_from(["s.npz", "pngs", "s.png", "deep/er/s.npz"]),
                       st.sampled_from(["s.csv", "s.gif", "/proc/x/s.png", ".", "s.PNG", "x" * 300 + ".npz"]))
SEED = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 9), HOSTILE_INT)
LABEL = st.one_of(st.none(), st.none(), st.integers(0, 9), st.integers(-2, 12), HOSTILE_INT)
NROW = st.one_of(st.none(), st.none(), st.integers(1, 12), st.integers(-2, 2), HOSTILE_INT)
DEVICE = st.one_of(st.sampled_from(["cpu", "auto"]), st.sampled_from(["cuda:99", "xla", "cpu:0", "mps", "x"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=SAMPLE_N, seed=SEED, label=LABEL, nrow=NROW, out=SAMPLE_OUT, device=DEVICE,
       which=st.sampled_from(["vanilla", "cgan", "cgan"]))
def test_sample_flags_never_traceback(trained, built_not_trained, capsys, n, seed, label, nrow, out, device, which):
    argv = ["sample", str(trained[which]), "-n", str(n), "--seed", str(seed), "--out", out, "--device", device]
    argv += [] if label is None else ["--class", str(label)]
    argv += [] if nrow is None else ["--nrow", str(nrow)]
    _check(_run(argv), capsys, argv)
