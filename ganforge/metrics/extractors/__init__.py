"""Feature extractors by name (``EXTRACTORS`` lives in ``ganforge.metrics``).

An extractor is built as ``EXTRACTORS.get(name)(dataset=..., **options)`` and has ``name``, ``key``
(identifies weights + preprocessing, used in cache keys), ``has_logits``, ``require_logits()`` and
``extract(x_model_space) -> (features (N, D) float32, logits (N, K) or None)``.
"""
