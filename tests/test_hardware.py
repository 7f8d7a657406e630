"""``precision: auto`` follows the hardware: bf16 only where it is native (the CPU capability is mocked)."""
from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.utils import hardware

SPR_FLAGS = "fpu sse2 avx2 fma avx512f avx512bw avx512_bf16 amx_tile amx_bf16 amx_int8"
ZEN3_FLAGS = "fpu sse2 avx2 fma"


def _cpuinfo(tmp_path, flags: str, model="Test CPU", key="flags"):
    text = ""
    for i in range(2):
        text += f"processor\t: {i}\nmodel name\t: {model}\n{key}\t\t: {flags}\n\n"
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


def test_cpu_flags_are_read_from_cpuinfo_with_a_safe_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(hardware, "CPUINFO", _cpuinfo(tmp_path, SPR_FLAGS, "Xeon SPR"))
    assert {"avx512_bf16", "amx_bf16"} <= hardware.cpu_flags()
    assert hardware.cpu_model() == "Xeon SPR"
    assert hardware.native_bf16_flags() == ["avx512_bf16", "amx_bf16"]
    arm = tmp_path / "arm"
    arm.mkdir()
    monkeypatch.setattr(hardware, "CPUINFO", _cpuinfo(arm, "fp asimd sve bf16", key="Features"))
    assert "asimd" in hardware.cpu_flags()
    monkeypatch.setattr(hardware, "CPUINFO", str(tmp_path / "missing"))  # macOS / Windows
    assert hardware.cpu_flags() == frozenset()
    assert hardware.resolve_precision("auto", "cpu") == "fp32"


@pytest.mark.parametrize("flags, expected", [(SPR_FLAGS, "bf16"), (ZEN3_FLAGS, "fp32"),
                                             ("avx512f amx_bf16", "bf16"), ("", "fp32")])
def test_auto_precision_on_cpu_follows_the_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags.split()))
    assert hardware.native_bf16("cpu") is (expected == "bf16")
    assert hardware.resolve_precision("auto", torch.device("cpu")) == expected
    assert hardware.resolve_precision("AUTO", "cpu") == expected
    # explicit choices pass through, whatever the hardware
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"
    assert hardware.resolve_precision("bf16", "cpu") == "bf16"
    warning = hardware.precision_warning("bf16", "cpu")
    assert (warning is None) is (expected == "bf16")
    assert hardware.describe_machine()["bf16_native"] is (expected == "bf16")


def test_no_onednn_means_no_native_bf16(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(SPR_FLAGS.split()))
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert hardware.resolve_precision("auto", "cpu") == "fp32"


def test_auto_precision_on_cuda_asks_torch_without_emulation(monkeypatch):
    asked = {}

    def supported(including_emulation=True):
        asked["emulation"] = including_emulation
        return gpu_has_bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset())  # the CPU does not matter for cuda
    for gpu_has_bf16, expected in ((True, "bf16"), (False, "fp32")):
        assert hardware.resolve_precision("auto", "cuda:0") == expected
        assert asked["emulation"] is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.resolve_precision("auto", "cuda") == "fp32"
    assert hardware.resolve_precision("auto", "meta") == "fp32"  # other devices: fp32


def test_a_bad_precision_is_a_clear_error():
    with pytest.raises(GanforgeError, match="auto"):
        hardware.resolve_precision("fp16", "cpu")


def test_describe_machine_has_what_a_benchmark_records():
    info = hardware.describe_machine()
    for key in ("cpu_model", "cpu_flags", "cpu_count", "torch", "torch_threads", "bf16_native"):
        assert key in info
    assert isinstance(info["cpu_flags"], list)
