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
