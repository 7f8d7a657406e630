"""The package's layering: lower layers never import higher ones, and there are no import cycles."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ganforge"
LOWER = ("data", "nets", "losses", "train", "recipes", "tabular", "utils")
HIGHER = ("ganforge", "ganforge.metrics", "ganforge.commands", "ganforge.cli", "ganforge.pretrained",
          "ganforge.sampling")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ganforge")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganforge") and node.level == 0:
            out.add(node.module)
            if node.module == "ganforge":  # from ganforge import x: the root, or a submodule x
                out |= {f"ganforge.{a.name}" for a in node.names if (PACKAGE / a.name).exists()
                        or (PACKAGE / f"{a.name}.py").exists()}
    return out


def _files():
    return [p for p in PACKAGE.rglob("*.py")]


def test_lower_layers_never_import_the_root_metrics_or_commands():
    offenders = []
    for path in _files():
        name = _module_name(path)
        if not name.startswith(tuple(f"ganforge.{layer}" for layer in LOWER)):
            continue
        for imported in _imports(path, top_level_only=False):
            if imported == "ganforge" or imported.startswith(HIGHER[1:]):
                offenders.append(f"{name} imports {imported}")
    assert not offenders, offenders


def test_no_import_cycles_at_module_level():
    graph = {_module_name(p): _imports(p, top_level_only=True) for p in _files()}
    known = set(graph)

    def resolve(name):  # "ganforge.data.base" stays; a name imported from a package maps to the package
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    edges = {m: {resolve(i) for i in deps if resolve(i) and resolve(i) != m} for m, deps in graph.items()}
    # A package importing its own submodules (registries filling themselves) is how Python packages work;
    # a cycle is a submodule chain that comes back to where it started through another package.
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in edges.get(m, ()):
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                if not all(a.startswith(cycle[0].rsplit(".", 1)[0]) for a in cycle):
                    cycles.append(" -> ".join(cycle))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, cycles
