"""R-precision of text-to-image models (Xu et al., "AttnGAN", CVPR 2018, section 5): does the generated
image match the caption it was drawn from, in the eyes of an image-text matching model trained
separately from the generator?

For each generated image (drawn from caption i) the true caption i and ``candidates - 1`` others drawn at
random from the remaining distinct captions are ranked by the cosine similarity of the matching model's
image and caption embeddings; R-precision (R = 1, as AttnGAN) is the fraction of images whose true
caption ranks first. Chance is 1 / candidates (1% with AttnGAN's 100). Real images scored the same
way give the ceiling the matching model allows.

The matching model is a run of the ``text-encoder`` recipe (``ganforge.recipes.text_encoder``), loaded
with ``load_matcher(RUN)``; captions are strings, re-encoded with the matcher's own vocabulary (words
it does not know are dropped, as for prompts).

    matcher = load_matcher("runs/matcher")
    r_precision(images, captions, matcher)        # {"r_precision": ..., "chance": 0.01, ...}
"""
from __future__ import annotations

import torch

from ganforge.data.captions import encode, tokenize
from ganforge.errors import GanforgeError
from ganforge.nets.text import similarity


class Matcher:
    """A trained image-text matching model: ``embed_images(x)`` and ``embed_captions(strings)``."""

    def __init__(self, text_encoder, image_encoder, vocab: list[str], max_words: int, device="cpu"):
        self.text_encoder, self.image_encoder = text_encoder.eval(), image_encoder.eval()
        self.vocab, self.max_words, self.device = list(vocab), int(max_words), torch.device(device)

    @torch.no_grad()
    def embed_images(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        return torch.cat([self.image_encoder(c.to(self.device).float()).float().cpu() for c in x.split(batch)])

    @torch.no_grad()
    def embed_captions(self, captions: list[str], batch: int = 256) -> torch.Tensor:
        known = set(self.vocab[2:])
        kept = [" ".join(w for w in tokenize(c) if w in known) for c in captions]
        tokens, _ = encode(kept, self.vocab, self.max_words)
        return torch.cat([self.text_encoder(c.to(self.device)).float().cpu() for c in tokens.split(batch)])


def load_matcher(run, device: str = "cpu") -> Matcher:
    """The matching model of a ``text-encoder`` run (folder or checkpoint)."""
    from ganforge.pretrained import TrainedGenerator

    model = TrainedGenerator.from_path(run, device=device)
    if model.config.recipe != "text-encoder":
        raise GanforgeError(f"{run} is a {model.config.recipe!r} run; R-precision needs a matching model trained with "
                            f"--recipe text-encoder.")
    meta = model.dataset.meta
    return Matcher(model.nets["text_encoder"], model.nets["image_encoder"], meta["vocab"],
                   meta.get("max_words", 16), device)


def r_precision(images: torch.Tensor, captions: list[str], matcher: Matcher, candidates: int = 100,
                seed: int = 0) -> dict[str, float]:
    """R-precision of ``images`` (model space) drawn from ``captions`` (one string per image)."""
    if len(images) != len(captions):
        raise GanforgeError(f"R-precision needs one caption per image; got {len(images)} images and "
                            f"{len(captions)} captions.")
    pool = sorted(set(captions))
    if len(pool) < candidates:
        raise GanforgeError(f"R-precision with {candidates} candidates needs at least that many distinct captions; "
                            f"there are {len(pool)} (lower candidates).")
    pool_emb = matcher.embed_captions(pool)
    index = {c: i for i, c in enumerate(pool)}
    sims = similarity(matcher.embed_images(images), pool_emb)          # (N images, pool)
    g = torch.Generator().manual_seed(seed)
    hits = []
    for row, caption in enumerate(captions):
        true = index[caption]
        others = torch.randperm(len(pool) - 1, generator=g)[:candidates - 1]
        others = others + (others >= true).long()                      # skip the true caption
        scores = sims[row, torch.cat([torch.tensor([true]), others])]
        hits.append(bool(scores[0] > scores[1:].max()))
    value = sum(hits) / len(hits)
    return {"r_precision": value, "chance": 1.0 / candidates, "images": len(hits), "candidates": candidates}
