"""Prometheus text-format metrics without a client library (counters, gauges, histograms with labels).

The server's metrics are a handful of series; the exposition format (version 0.0.4) is plain text, so a
40-line writer avoids a dependency. Thread-safe: the inference thread and the event loop both record.
"""
from __future__ import annotations

import math
import threading

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    esc = lambda v: str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')  # noqa: E731
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items())) + "}"


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class Registry:
    def __init__(self):
        self._lock = threading.Lock()
        self._meta: dict[str, tuple[str, str]] = {}      # name -> (type, help)
        self._values: dict[str, dict[tuple, float]] = {}
        self._hist: dict[str, tuple[tuple, dict[tuple, list]]] = {}

    def _declare(self, name, kind, help_text):
        self._meta.setdefault(name, (kind, help_text))

    def inc(self, name: str, help_text: str, value: float = 1.0, **labels) -> None:
        self._declare(name, "counter", help_text)
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, help_text: str, value: float, **labels) -> None:
        self._declare(name, "gauge", help_text)
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(value)

    def observe(self, name: str, help_text: str, value: float, buckets=LATENCY_BUCKETS, **labels) -> None:
        self._declare(name, "histogram", help_text)
        key = tuple(sorted(labels.items()))
        with self._lock:
            bounds, series = self._hist.setdefault(name, (tuple(buckets), {}))
            counts = series.setdefault(key, [0] * len(bounds) + [0, 0.0])  # buckets..., count, sum
            for i, bound in enumerate(bounds):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += 1
            counts[-1] += value

    def value(self, name: str, **labels) -> float:
        with self._lock:
            return self._values.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        lines = []
        with self._lock:
            for name, (kind, help_text) in sorted(self._meta.items()):
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    bounds, series = self._hist.get(name, ((), {}))
                    for key, counts in sorted(series.items()):
                        labels = dict(key)
                        for bound, c in zip(bounds, counts):
                            lines.append(f"{name}_bucket{_labels({**labels, 'le': _number(bound)})} {c}")
                        lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {counts[-2]}")
                        lines.append(f"{name}_count{_labels(labels)} {counts[-2]}")
                        lines.append(f"{name}_sum{_labels(labels)} {_number(counts[-1])}")
                else:
                    for key, v in sorted(self._values.get(name, {}).items()):
                        lines.append(f"{name}{_labels(dict(key))} {_number(v)}")
        return "\n".join(lines) + "\n"
