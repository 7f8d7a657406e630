"""List what can be named: recipes, datasets, architectures, losses, metrics, extractors."""
from __future__ import annotations

HELP = "list recipes, datasets, architectures, losses and metrics"


def add_arguments(p):
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "recipes", "datasets", "architectures", "losses", "metrics", "extractors"])


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
    for name, registry in registries().items():
        if args.what in ("all", name):
            print(f"{name}: {', '.join(registry.names())}")
    return 0
