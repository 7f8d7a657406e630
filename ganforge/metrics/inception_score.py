"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), computed on 10 splits of
the samples (mean and std over splits, the original protocol). With the inception extractor it
uses the 1008-way head of the pytorch-fid weights; with the classifier extractor it is a domain IS
whose maximum is the number of classes."""
from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError


def inception_score_from_probs(probs, splits: int = 10) -> tuple[float, float]:
    p = torch.as_tensor(probs).double()
    if len(p) < splits:
        raise GanforgeError(f"the Inception Score needs at least {splits} samples (one per split), got {len(p)}.")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)
        scores.append(float(kl.mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    return inception_score_from_probs(torch.as_tensor(logits).double().softmax(1), splits)
