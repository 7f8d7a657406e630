"""Safe loading: checkpoints and published generators never execute code; damage gives a clear error.

Loading reads JSON and safetensors only. The JSON records the sha256 of the tensor file (checked before
reading it) and is itself checked field by field (the hash does not cover it), so a truncated, tampered
or hand-edited checkpoint is refused with a message, through ``ganforge.load`` and ``ganforge sample``.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.errors import CheckpointError, GanforgeError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("safe") / "run"
    ganforge.train({"recipe": "vanilla", "data": "toy-ring", "options": {"n_samples": 512}, "steps": 6,
                    "checkpoint_every": 3, "batch_size": 16, "g_width": 8, "d_width": 8, "z_dim": 2,
                    "sample_every": 0, "log_every": 3, "device": "cpu", "out": str(run)})
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _ckpt(run, step):
    return run / "checkpoints" / f"step-{step:08d}.json"


def _cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


class _Exploit:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _forge(run, step, payload: bytes):
    """A checkpoint named like a real one whose tensor file is ``payload``, with a matching hash (an
    attacker can recompute it) and an otherwise valid JSON."""
    meta = json.loads(_ckpt(run, 6).read_text())
    meta.update(step=step, tensors=f"step-{step:08d}.safetensors", sha256=hashlib.sha256(payload).hexdigest())
    (run / "checkpoints" / meta["tensors"]).write_bytes(payload)
    _ckpt(run, step).write_text(json.dumps(meta))
    return _ckpt(run, step)


def test_a_valid_run_loads_without_any_unpickler(run, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("an unpickler was called")

    for target, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load"),
                         (torch.jit, "load")]:
        monkeypatch.setattr(target, name, refuse)
    gen = ganforge.load(run)
    assert gen.step == 6 and gen.sample(5, seed=1).shape == (5, 2)


@pytest.mark.parametrize("payload", ["pickle", "torch-save"])
def test_a_pickle_named_like_a_checkpoint_is_refused_and_never_run(run, tmp_path, capsys, payload):
    marker = tmp_path / "pwned"
    if payload == "pickle":
        data = pickle.dumps({"net.generator.main.0.weight": _Exploit(marker)})
    else:
        path = tmp_path / "evil.pt"
        torch.save({"w": torch.zeros(2), "x": _Exploit(marker)}, path)
        data = path.read_bytes()
    forged = _forge(run, 9, data)
    with pytest.raises(CheckpointError, match="cannot be read"):
        ganforge.load(forged)
    code, err = _cli(capsys, "sample", str(forged), "-n", "4", "--out", str(tmp_path / "s.npz"))
    assert code == 2 and "cannot be read" in err
    assert ganforge.load(run).step == 6  # the run folder falls back past it to the newest good checkpoint
    # Handing the pickle itself to the loader is refused too.
    (tmp_path / "model.pt").write_bytes(data)
    with pytest.raises(GanforgeError):
        ganforge.load(tmp_path / "model.pt")
    assert not marker.exists()
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("damage,fragment", [
    (lambda b: b[: len(b) // 2], "truncated or tampered"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "truncated or tampered"),  # one bit
    (lambda b: b"", "truncated or tampered"),
])
def test_damaged_tensor_file_gives_a_clear_error(run, tmp_path, capsys, damage, fragment):
    for step in (3, 6):
        tensors = _ckpt(run, step).with_suffix(".safetensors")
        tensors.write_bytes(damage(tensors.read_bytes()))
    with pytest.raises(CheckpointError, match=fragment):
        ganforge.load(_ckpt(run, 6))
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        ganforge.load(run)
    out = tmp_path / "s.npz"
    for target in (run, _ckpt(run, 6), _ckpt(run, 6).with_suffix(".safetensors")):
        code, err = _cli(capsys, "sample", str(target), "-n", "4", "--out", str(out))
        assert code == 2 and fragment in err
    assert not out.exists()


def test_newest_damaged_falls_back_to_the_previous_checkpoint(run):
    tensors = _ckpt(run, 6).with_suffix(".safetensors")
    tensors.write_bytes(tensors.read_bytes()[:100])
    assert ganforge.load(run).step == 3


@pytest.mark.parametrize("edit,fragment", [
    (lambda m: m.update(tensors="../../../etc/passwd"), "'tensors' must name"),
    (lambda m: m.update(tensors=".hidden.safetensors"), "'tensors' must name"),
    (lambda m: m.update(sha256=None), "sha256"),
    (lambda m: m.update(step="6; rm -rf /"), "'step'"),
    (lambda m: m.update(step=-1), "'step'"),
    (lambda m: m.update(config=["not", "a", "dict"]), "'config' must be a mapping"),
    (lambda m: m["data"].update(dtype="load"), "'data.dtype'"),
    (lambda m: m["data"].update(shape=[100000, 100000, 100000]), "absurdly large"),
    (lambda m: m["data"].update(shape=[0]), "'data.shape'"),
    (lambda m: m["data"].update(shape="2"), "'data.shape'"),
    (lambda m: m.update(lr_scale="fast"), "'lr_scale'"),
    (lambda m: m["config"].update(recipe="os.system"), "unknown recipe"),
    (lambda m: m["config"].update(g_width=-5), "'g_width'"),
    (lambda m: m["config"].update(z_dim=3), "does not fit"),
    (lambda m: m.pop("data"), "lacks its 'data' record"),
    (lambda m: m.update(format="pickle"), "not a ganforge checkpoint"),
    (lambda m: m.update(version=99), "format version 99"),
])
def test_edited_json_record_gives_a_clear_error(run, tmp_path, capsys, edit, fragment):
    """The hash covers the tensor file; the JSON beside it is validated field by field."""
    for step in (3, 6):
        meta = json.loads(_ckpt(run, step).read_text())
        edit(meta)
        _ckpt(run, step).write_text(json.dumps(meta))
    with pytest.raises(GanforgeError, match=None) as info:
        ganforge.load(_ckpt(run, 6))
    assert fragment in str(info.value)
    code, err = _cli(capsys, "sample", str(run), "-n", "4", "--out", str(tmp_path / "s.npz"))
    assert code == 2 and err.startswith("ganforge: error:")


def test_resume_from_a_tampered_run_is_refused(run, capsys):
    for step in (3, 6):
        tensors = _ckpt(run, step).with_suffix(".safetensors")
        tensors.write_bytes(tensors.read_bytes()[:-8])
    code, err = _cli(capsys, "train", "--resume", str(run), "--steps", "9")
    assert code == 2 and "no complete checkpoint" in err and "tampered" in err
    assert json.loads((run / "run.json").read_text())["status"] == "complete"  # untouched: it never started
