"""List what can be named: recipes, datasets, architectures, losses, metrics, extractors."""
from __future__ import annotations

HELP = "list recipes, datasets, architectures, losses and metrics"


def add_arguments(p):
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "recipes", "datasets", "architectures", "losses", "metrics", "extractors", "options"])


def registries() -> dict:
    from ganforge.data import DATASETS
    from ganforge.losses import LOSSES
    from ganforge.nets import ARCHITECTURES
    from ganforge.recipes import RECIPES

    found = {"recipes": RECIPES, "datasets": DATASETS, "architectures": ARCHITECTURES, "losses": LOSSES}
    try:
        from ganforge.metrics import EXTRACTORS, METRICS

        found.update(metrics=METRICS, extractors=EXTRACTORS)
    except ImportError:
        pass
    return found


def run(args) -> int:
    found = registries()
    for name, registry in found.items():
        if args.what in ("all", name):
            print(f"{name}: {', '.join(registry.names())}")
    if args.what == "options":  # each component's typed options (--options '{key: value}')
        from ganforge.options import declared

        for kind in ("recipes", "datasets", "architectures"):
            for entry in found[kind].names():
                for key, opt in declared(found[kind].options(entry)).items():
                    types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
                    type_names = "|".join(getattr(t, "__name__", str(t)) for t in types)
                    print(f"{kind[:-1]} {entry}: {key} ({type_names}, default {opt.default!r}) {opt.help}")
    return 0
