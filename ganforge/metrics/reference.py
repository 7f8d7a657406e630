"""Cache of real-data features (and their mean/covariance) per (dataset, extractor, sample count).

Real data never changes between evaluations of a run, so its features are computed once:
``$GANFORGE_CACHE/reference/<key>.safetensors`` (features, logits, mu, sigma) + ``<key>.json``
(what the key is made of; written last, it is the commit marker). The key hashes the dataset's
content fingerprint (sha256 of its tensors: change one pixel and the key changes), the extractor's
key (inception: sha256 of the weights file, precision and resize convention; classifier: the
classifier's training-data hash, kind and seed), the sample count and the subset seed.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch
from safetensors.torch import load_file, save_file

from ganforge.metrics.fid import feature_stats

CACHE_VERSION = 2  # 2: inception keys name the weights by sha256 and the resize convention


def _path(key: str):
    from ganforge.classifiers import cache_root

    return cache_root() / "reference" / key


def reference_key(dataset, extractor, n: int | None, seed: int = 0) -> tuple[str, dict]:
    """(cache key, what it is made of) for ``n`` real samples of ``dataset`` through ``extractor``."""
    from ganforge.classifiers import dataset_fingerprint

    n = len(dataset.x) if n is None else min(int(n), len(dataset.x))
    meta = {"dataset": getattr(dataset, "name", "?"), "fingerprint": dataset_fingerprint(dataset),
            "extractor": extractor.key, "n": n, "seed": seed, "version": CACHE_VERSION}
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:24], meta


def reference_features(dataset, extractor, n: int | None, seed: int = 0, cache: bool = True) -> dict:
    """{"features", "logits" (or absent), "mu", "sigma"} of ``n`` real samples (a fixed seeded subset)."""
    key, meta = reference_key(dataset, extractor, n, seed)
    n = meta["n"]
    base = _path(key)
    tensor_path, meta_path = base.with_suffix(".safetensors"), base.with_suffix(".json")
    if cache and meta_path.is_file() and tensor_path.is_file():
        try:
            if json.loads(meta_path.read_text()) == meta:
                return load_file(str(tensor_path))
        except (OSError, ValueError, RuntimeError):
            pass  # unreadable: recompute and overwrite
    if n < len(dataset.x):
        idx = torch.randperm(len(dataset.x), generator=torch.Generator().manual_seed(seed))[:n]
        raw = dataset.x[idx]
    else:
        raw = dataset.x
    features, logits = extractor.extract(dataset.to_model(raw))
    mu, sigma = feature_stats(features)
    out = {"features": features.contiguous(), "mu": mu, "sigma": sigma}
    if logits is not None:
        out["logits"] = logits.contiguous()
    if cache:
        tensor_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tensor_path.with_name(f".{tensor_path.name}.{os.getpid()}.tmp")
        save_file(out, str(tmp))
        os.replace(tmp, tensor_path)
        tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(meta, sort_keys=True))
        os.replace(tmp, meta_path)
    return out
