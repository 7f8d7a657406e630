"""Matplotlib figures (Agg backend: no display needed)."""
from __future__ import annotations

import json
import os

from ganforge.utils.files import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curve_png(metrics_path: str | os.PathLike, out: str | os.PathLike) -> None:
    series: dict[str, list[tuple[int, float]]] = {}
    if not os.path.exists(metrics_path):
        return
    with open(metrics_path) as f:
        for line in f:
            record = json.loads(line)
            for key, value in record.items():
                if key.endswith("loss") and isinstance(value, (int, float)):
                    series.setdefault(key, []).append((record["step"], value))
    if not series:
        return
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, points in sorted(series.items()):
        steps, values = zip(*points)
        ax.plot(steps, values, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def scatter_png(real, fake, out: str | os.PathLike) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.4, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, alpha=0.4, label="generated")
    ax.legend()
    ax.set_aspect("equal")
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
