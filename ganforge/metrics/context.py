"""What a metric function receives: ``fn(ctx: MetricContext) -> dict[str, float]``.

Everything is computed lazily and at most once per ``evaluate`` call, so FID + KID + PR share one
feature extraction, and metrics that need no features (modes) never build an extractor.
"""
from __future__ import annotations

from functools import cached_property

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.fid import feature_stats


class MetricContext:
    """Attributes a metric may use:

    - ``fake``: generated samples, model space (images (N, C, H, W) in [-1, 1], or (N, D) vectors);
    - ``real``: real samples in model space (from ``dataset`` when one was given; lazy);
    - ``dataset``: the real ``ganforge.data.Dataset`` or None; ``train_dataset``: the training split
      when the caller knows it (classifier training, compatibility), else None;
    - ``generator``: an object with ``sample(n, seed=0, labels=None)`` / ``sample_with_labels`` or None;
    - ``options``: the keyword options given to ``evaluate`` (metric-specific knobs);
    - ``extractor``: the feature extractor (built on first use);
    - ``features(which)`` / ``logits(which)`` / ``stats(which)`` with which in {"real", "fake"}.
    """

    def __init__(self, fake, real=None, dataset=None, train_dataset=None, generator=None,
                 extractor="classifier", options: dict | None = None):
        self.fake, self._real, self.dataset = fake, real, dataset
        self.train_dataset, self.generator = train_dataset, generator
        self.options = dict(options or {})
        self._extractor_spec = extractor
        self._real_cache: dict | None = None

    @cached_property
    def real(self) -> torch.Tensor:
        if self._real is not None:
            return self._real
        if self.dataset is None:
            raise GanforgeError("this metric needs real samples; pass real data.")
        return self.dataset.to_model(self._real_subset())

    def _real_subset(self):
        n = self.real_samples
        if n >= len(self.dataset.x):
            return self.dataset.x
        g = torch.Generator().manual_seed(int(self.options.get("seed", 0)))
        return self.dataset.x[torch.randperm(len(self.dataset.x), generator=g)[:n]]

    @property
    def real_samples(self) -> int:
        """How many real samples: ``real_samples`` option, else as many as fake (FID is biased by n)."""
        if self._real is not None:
            return len(self._real)
        n = self.options.get("real_samples") or len(self.fake)
        return min(int(n), len(self.dataset.x))

    @cached_property
    def extractor(self):
        if not isinstance(self._extractor_spec, str):
            return self._extractor_spec
        from ganforge.metrics import EXTRACTORS

        data = self.train_dataset if self.train_dataset is not None else self.dataset
        opts = {k: v for k, v in self.options.items() if k != "dataset"}
        return EXTRACTORS.get(self._extractor_spec)(dataset=data, **opts)

    def _real_features(self) -> dict:
        if self._real_cache is None:
            if self._real is None and self.dataset is not None:
                from ganforge.metrics.reference import reference_features

                self._real_cache = reference_features(self.dataset, self.extractor, self.real_samples,
                                                      seed=int(self.options.get("seed", 0)),
                                                      cache=bool(self.options.get("cache", True)))
            else:
                f, logits = self.extractor.extract(self.real)
                self._real_cache = {"features": f, "logits": logits}
        return self._real_cache

    @cached_property
    def _fake_features(self):
        f, logits = self.extractor.extract(self.fake)
        return {"features": f, "logits": logits}

    def _side(self, which: str) -> dict:
        if which not in ("real", "fake"):
            raise ValueError(which)
        return self._real_features() if which == "real" else self._fake_features

    def features(self, which: str) -> torch.Tensor:
        return self._side(which)["features"]

    def logits(self, which: str) -> torch.Tensor:
        self.extractor.require_logits()
        return self._side(which)["logits"]

    def stats(self, which: str):
        side = self._side(which)
        if "mu" not in side:
            side["mu"], side["sigma"] = feature_stats(side["features"])
        return side["mu"], side["sigma"]
