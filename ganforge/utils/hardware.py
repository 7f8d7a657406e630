"""What the machine can run fast: CPU flags, native bf16, the ``precision: auto`` choice, and the thread count.

bf16 autocast is a large win only where the hardware computes in bf16 natively: CUDA GPUs with bf16
(Ampere and later) and x86 CPUs with AVX512-BF16 or AMX-BF16 (Intel Cooper Lake / Sapphire Rapids
and later, AMD Zen 4 and later). Elsewhere oneDNN emulates it and it is ~6-40x *slower* than fp32
(docs/BENCHMARKS.md), so ``auto`` must detect, not assume::

    from ganforge.utils.hardware import resolve_precision
    precision = resolve_precision(cfg.precision, device)   # "auto" -> "bf16" or "fp32"

The CPU flags come from ``/proc/cpuinfo`` (Linux). Where that file does not exist (macOS, Windows)
the flag set is empty, so ``auto`` falls back to fp32 on CPU: safe, never slow.
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform

import torch

from ganforge.errors import GanforgeError

PRECISIONS = ("auto", "fp32", "bf16")
# x86 flags (Linux /proc/cpuinfo names) that mean native bf16 arithmetic on the CPU.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Flags worth recording with a benchmark (what decides the speed of conv/matmul kernels).
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                     "amx_tile", "amx_bf16", "amx_int8", "avx_vnni", "asimd", "sve", "bf16")
CPUINFO = "/proc/cpuinfo"


@functools.lru_cache(maxsize=4)
def _read_cpuinfo(path: str) -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first processor in ``path``; ("", {}) when it cannot be read."""
    model, flags = "", frozenset()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if not sep:
                    if model and flags:  # the end of the first processor's block
                        break
                    continue
                key = key.strip().lower()
                if key in ("model name", "cpu model") and not model:
                    model = value.strip()
                elif key in ("flags", "features") and not flags:  # x86: flags; aarch64: Features
                    flags = frozenset(value.split())
    except OSError:
        pass
    return model, flags


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (lower case, Linux names), or an empty set where they are unknown."""
    return _read_cpuinfo(CPUINFO)[1]


def cpu_model() -> str:
    return _read_cpuinfo(CPUINFO)[0] or platform.processor() or platform.machine() or "unknown"


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively (so bf16 autocast is faster than fp32 there).

    CUDA: ``torch.cuda.is_bf16_supported`` without emulation (pre-Ampere GPUs only emulate it).
    CPU: AVX512-BF16 or AMX-BF16 in the CPU flags, and PyTorch built with oneDNN (its bf16 kernels).
    Other devices (MPS, XPU, ...): False, so ``auto`` stays with fp32 there.
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # older PyTorch: no emulation argument
            return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(native_bf16_flags()) and torch.backends.mkldnn.is_available()
    return False


def native_bf16_flags() -> list[str]:
    """The native-bf16 flags this CPU has (empty when none)."""
    flags = cpu_flags()
    return [f for f in BF16_CPU_FLAGS if f in flags]


def resolve_precision(requested: str, device: torch.device | str = "cpu") -> str:
    """``"auto"`` -> ``"bf16"`` where ``device`` runs bf16 natively, else ``"fp32"``; fp32/bf16 pass through."""
    value = str(requested).lower()
    if value not in PRECISIONS:
        raise GanforgeError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}; "
                            "use auto (bf16 where the hardware runs it natively), fp32 or bf16.")
    if value != "auto":
        return value
    return "bf16" if native_bf16(device) else "fp32"


def precision_warning(precision: str, device: torch.device | str = "cpu") -> str | None:
    """A one-line warning when bf16 was asked for on hardware that only emulates it (else None)."""
    if precision == "bf16" and not native_bf16(device):
        device = torch.device(device)
        what = "this CPU has no AVX512-BF16/AMX-BF16" if device.type == "cpu" else f"{device.type} has no native bf16"
        return (f"precision bf16: {what}, so bf16 is emulated and typically several times slower than fp32; "
                "use --precision auto or fp32.")
    return None


@contextlib.contextmanager
def torch_threads(n: int):
    """PyTorch's intra-op thread count set to ``n`` (0: unchanged) for a block; it is process-wide, so
    a run inside a larger program (a notebook, the test suite) gives the previous count back."""
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def describe_machine(device: torch.device | str = "cpu") -> dict:
    """What a benchmark should record about the machine it ran on."""
    device = torch.device(device)
    flags = cpu_flags()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    out = {
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_flags": [f for f in FLAGS_OF_INTEREST if f in flags],
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torch_cpu_capability": _cpu_capability(),
        "python": platform.python_version(),
        "device": str(device),
        "bf16_native": native_bf16(device),
        "bf16_native_cpu": native_bf16("cpu"),
    }
    if device.type == "cuda" and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(device)
    try:
        out["loadavg"] = [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except (OSError, ValueError):
        pass
    return out


def _cpu_capability() -> str:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # pragma: no cover - older PyTorch
        return "unknown"


__all__ = ["cpu_flags", "cpu_model", "native_bf16_flags", "native_bf16", "resolve_precision", "precision_warning", "describe_machine",
           "torch_threads"]
