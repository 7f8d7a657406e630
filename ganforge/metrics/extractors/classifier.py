"""The ``classifier`` feature extractor: penultimate features and logits of a small classifier
trained on the real, labelled training data (``ganforge.classifiers.pretrained``: a CNN for images,
an MLP for vectors; deterministic and cached by the data's hash).

This is a *domain* feature space (a Fréchet distance in it is sometimes called FCD/"FID with a
domain classifier"): numbers are comparable only between runs that use the same training data,
classifier kind and seed, which the cache key records. Images are quantised to the 8-bit grid first,
exactly as in the inception extractor, so in-memory samples and saved PNGs score the same.
"""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


class ClassifierExtractor:
    def __init__(self, dataset=None, classifier_data=None, classifier_kind: str | None = None,
                 classifier_seed: int = 0, batch_size: int = 1024, device="cpu", **_):
        from ganforge.classifiers import dataset_fingerprint, pretrained

        data = classifier_data if classifier_data is not None else dataset
        if data is None or getattr(data, "y", None) is None:
            raise GanforgeError(
                "the classifier extractor needs the real labelled training data to train its classifier "
                "(evaluate a run, or pass --data NAME with --real/--fake); or use --extractor inception.")
        kind = classifier_kind or ("cnn" if data.kind == "image" else "mlp")
        self.model = pretrained(data, kind, seed=classifier_seed).to(device)
        self.shape, self.kind, self.device = tuple(data.x.shape[1:]), data.kind, torch.device(device)
        self.batch_size, self.has_logits, self.name = int(batch_size), True, "classifier"
        self.key = f"classifier-{kind}-s{classifier_seed}-{dataset_fingerprint(data)[:16]}"

    def require_logits(self):
        return None

    @torch.inference_mode()
    def extract(self, x: torch.Tensor, logits: bool = True):
        if tuple(x.shape[1:]) != self.shape:
            raise GanforgeError(
                f"samples of shape {tuple(x.shape[1:])} do not match the classifier's training data "
                f"{self.shape}; generate at the dataset's size (or resize with --image-size when training).")
        feats, outs = [], []
        for i in range(0, len(x), self.batch_size):
            batch = x[i:i + self.batch_size].to(self.device).float()
            if self.kind == "image":
                batch = ((batch.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
            f = self.model.features(batch)
            feats.append(f.float().cpu())
            outs.append(self.model.head(f).float().cpu() if hasattr(self.model, "head")
                        else self.model(batch).float().cpu())
        if not feats:
            return torch.empty(0, 0), torch.empty(0, 0)
        return torch.cat(feats), torch.cat(outs)
