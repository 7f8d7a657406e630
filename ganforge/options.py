"""Typed options of recipes, datasets and architectures (``cfg.options`` / ``--options '{k: v}'``).

Each component declares its own options as a dataclass (``Recipe.Options``) or a mapping of
``name -> Option`` given to its registry (``DATASETS.register("toy-ring", options=...)``).
``cfg.options`` is one mapping shared by the recipe, the dataset and the architecture of a run, so
each component reads only its keys (``parse_options``), and ``check_options`` refuses a key that
none of them declares, naming the valid ones (a misspelt key is never silently ignored).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

from ganforge.errors import GanforgeError


@dataclass(frozen=True)
class Option:
    """A declared option: its type (int, float, bool, str, dict, list, or a tuple of them) and meaning."""
    type: Any
    default: Any = None
    help: str = ""


def _types(typ) -> tuple:
    return typ if isinstance(typ, tuple) else (typ,)


def _coerce(value, typ, name: str, where: str):
    types = _types(typ)
    if value is None and type(None) in types:
        return None
    if isinstance(value, bool):  # a bool is an int to Python, never to us
        if bool in types:
            return value
    elif isinstance(value, types):
        return value
    elif float in types and isinstance(value, int):
        return float(value)
    elif int in types and isinstance(value, float) and value.is_integer():
        return int(value)
    names = " or ".join(t.__name__ for t in types)
    raise GanforgeError(f"option {name!r} of {where} is {value!r}; it must be {names} "
                        f"(e.g. --options '{{{name}: ...}}').")


def declared(spec) -> dict[str, Option]:
    """The ``name -> Option`` mapping of a dataclass spec or a mapping spec (None: nothing)."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return spec
    out = {}
    for f in dataclasses.fields(spec):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out[f.name] = Option(f.metadata.get("type", type(default) if default is not None else object), default,
                             f.metadata.get("help", ""))
    return out


def parse_options(spec, options: dict | None, where: str):
    """The component's typed view of ``cfg.options``: its dataclass filled from its own keys (others are
    for the dataset / architecture and are checked by ``check_options``); None when it declares none."""
    if spec is None:
        return None
    options = options or {}
    values = {}
    for name, opt in declared(spec).items():
        if name in options:
            values[name] = options[name] if opt.type is object else _coerce(options[name], opt.type, name, where)
    return spec(**values)


def check_options(options: dict | None, specs: dict[str, Any]) -> None:
    """Every key of ``options`` must be declared by one of ``specs`` ({'recipe dcgan': spec, ...})."""
    known: dict[str, str] = {}
    for where, spec in specs.items():
        for name in declared(spec):
            known.setdefault(name, where)
    unknown = [k for k in (options or {}) if k not in known]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        valid = ", ".join(sorted(known)) or "none"
        owners = ", ".join(specs)
        raise GanforgeError(f"unknown option {key!r} for {owners}.{hint} Valid options: {valid}.")


def option_field(default, help: str = "", type=None):
    """A dataclass field of an ``Options`` class, with its help (and type when the default is None)."""
    meta = {"help": help}
    if type is not None:
        meta["type"] = type
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
