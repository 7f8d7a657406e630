"""Helpers shared by sub-commands: Config keys as flags."""
from __future__ import annotations

import argparse
from dataclasses import fields

from ganforge.config import Config


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Every Config key becomes --key-name VALUE (booleans also accept a bare --flag)."""
    group = parser.add_argument_group("configuration (any key of the config; see docs/CONFIG.md)")
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not None else None
        help_text = f.metadata.get("help", "")
        if f.name != "options" and default not in (None, ""):
            help_text += f" [default: {default}]"
        kwargs = dict(dest=f"cfg_{f.name}", default=None, help=help_text, metavar=f.name.upper())
        if "bool" in str(f.type):
            kwargs.update(nargs="?", const="true", metavar="BOOL")
        group.add_argument(flag, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}


MAX_SEED = 2**63 - 1  # torch and numpy generators take seeds in [0, 2**63)


def check_seed(seed: int, flag: str = "--seed") -> int:
    from ganforge.errors import GanforgeError

    if not 0 <= seed <= MAX_SEED:
        raise GanforgeError(f"{flag} must be between 0 and {MAX_SEED}, got {seed}.")
    return seed


def check_device(name: str) -> str:
    """A --device that exists on this machine (checked before loading anything onto it); ``auto`` becomes
    ``cuda`` when a GPU is available, else ``cpu``. Returns the device name to use."""
    import torch

    from ganforge.errors import GanforgeError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanforgeError(f"unknown device {name!r}; use cpu, cuda or cuda:N (or auto).") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanforgeError(f"device {name!r} was requested but no CUDA GPU is available; use --device cpu.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GanforgeError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} "
                                f"GPU(s), cuda:0..cuda:{torch.cuda.device_count() - 1}.")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError(f"device {name!r} was requested but MPS is not available; use --device cpu.")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise GanforgeError(f"device {name!r} is not supported; use cpu, cuda or cuda:N (or auto).")
    return name
