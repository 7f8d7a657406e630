"""Image-text matching objectives.

``matching_loss``: the sentence-level DAMSM loss of AttnGAN (Xu et al., "AttnGAN: Fine-Grained Text to
Image Generation with Attentional Generative Adversarial Networks", CVPR 2018, eqs. 10-13 with the
sentence vector): within a batch of matching (image, caption) pairs, the posterior of caption i given
image i is a softmax over gamma3 * cosine similarities with every caption of the batch, and the loss is
the negative log-posterior in both directions (image -> text and text -> image), gamma3 = 10.
Captions identical to another in the batch are not counted as negatives (AttnGAN masks same-class
captions for the same reason): their similarity is removed from the softmax.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def matching_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, tokens: torch.Tensor | None = None,
                  gamma: float = 10.0) -> torch.Tensor:
    """Symmetric cross-entropy over gamma * cosine(image_i, text_j) (fp32 scalar)."""
    logits = gamma * (F.normalize(image_emb.float(), dim=1) @ F.normalize(text_emb.float(), dim=1).t())
    if tokens is not None:
        same = (tokens[:, None, :] == tokens[None, :, :]).all(-1)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(logits), device=logits.device)
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)
