import json

import pytest
import torch

from ganforge.errors import CheckpointError
from ganforge.train import checkpoint as ckpt


def _save(run, step, keep=3, value=1.0):
    net = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(net.weight, value)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return ckpt.save_checkpoint(run, step, nets={"generator": net}, optimizers={"generator": opt}, emas={},
                                state={"recipe": "x", "sampler_drawn": step}, keep=keep), net, opt


def test_round_trip_restores_tensors_and_optimizer(tmp_path):
    _, net, opt = _save(tmp_path, 5)
    meta, tensors = ckpt.latest_checkpoint(tmp_path)
    assert meta["step"] == 5 and meta["sampler_drawn"] == 5
    other = torch.nn.Linear(3, 2)
    ckpt.load_module_state(other, "net.generator.", tensors, "generator")
    assert torch.equal(other.weight, net.weight)
    other_opt = torch.optim.Adam(other.parameters())
    ckpt.load_optimizer_state(other_opt, "optim.generator", meta["optimizers"]["generator"], tensors)
    assert torch.equal(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_only_safetensors_and_json_no_temp_files(tmp_path):
    _save(tmp_path, 1)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step-00000001.json", "step-00000001.safetensors"]


def test_keeps_last_k(tmp_path):
    for step in range(1, 6):
        _save(tmp_path, step, keep=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-00000004.json", "step-00000005.json"]


def test_truncated_latest_falls_back_to_previous_and_named_load_fails(tmp_path):
    _save(tmp_path, 1)
    json_path, _, _ = _save(tmp_path, 2)
    tensors = json_path.with_suffix(".safetensors")
    tensors.write_bytes(tensors.read_bytes()[:-20])
    meta, _ = ckpt.latest_checkpoint(tmp_path)
    assert meta["step"] == 1
    with pytest.raises(CheckpointError, match="hash"):
        ckpt.read_checkpoint(json_path)


def test_tampered_file_is_detected(tmp_path):
    json_path, _, _ = _save(tmp_path, 1)
    tensors = json_path.with_suffix(".safetensors")
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered"):
        ckpt.resolve_checkpoint(json_path)


def test_tensor_file_without_json_is_not_a_checkpoint(tmp_path):
    json_path, _, _ = _save(tmp_path, 1)
    json_path.unlink()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        ckpt.latest_checkpoint(tmp_path)


def test_corrupt_json_and_foreign_json(tmp_path):
    json_path, _, _ = _save(tmp_path, 1)
    json_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not JSON"):
        ckpt.read_checkpoint(json_path)
    json_path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        ckpt.read_checkpoint(json_path)


def test_shape_mismatch_is_a_clear_error(tmp_path):
    _save(tmp_path, 1)
    _, tensors = ckpt.latest_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="does not fit"):
        ckpt.load_module_state(torch.nn.Linear(5, 2), "net.generator.", tensors, "generator")
