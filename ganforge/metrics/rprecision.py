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

From the command line (one image per test caption; FID / KID against the test images need
``--extractor inception``, captioned data has no class labels for the classifier extractor)::

    ganforge eval runs/stackgan --metrics r_precision,fid --extractor inception --matcher runs/matcher
"""
from __future__ import annotations

import torch

from ganforge.data.captions import decode, encode, tokenize
from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS
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
        raise GanforgeError(f"R-precision ranks each caption among {candidates} candidates, so it needs at least "
                            f"{candidates} distinct captions; there are {len(pool)}.")
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


@METRICS.register("r_precision")
def _r_precision_metric(ctx) -> dict[str, float]:
    captions, matcher = ctx.options.get("captions"), ctx.options.get("matcher")
    if captions is None or matcher is None:
        raise GanforgeError("r_precision scores a text-to-image run with an image-text matching model: ganforge eval "
                            "RUN --metrics r_precision --matcher MATCHER_RUN (a --recipe text-encoder run).")
    matcher = matcher if isinstance(matcher, Matcher) else load_matcher(matcher)
    out = r_precision(ctx.fake, captions, matcher, int(ctx.options.get("candidates", 100)), int(ctx.options.get("seed", 0)))
    return {"r_precision": out["r_precision"]}


def evaluate_text_to_image(gen, reference, metrics, matcher=None, samples: int | None = None, **options):
    """One image per caption of ``reference`` (a captioned split; ``samples`` of them, seeded), scored with
    ``metrics`` (r_precision with ``matcher``; FID etc. against the split's images). (results, protocol)."""
    from ganforge.metrics import evaluate

    tokens = reference.fields["caption"]
    keep = torch.arange(len(tokens))
    if samples is not None and samples < len(tokens):
        keep = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(int(options.get("seed", 0))))[:samples]
    fake = gen.recipe.sample(len(keep), seed=int(options.get("seed", 0)), nets=gen.nets, prompt=tokens[keep]).x
    captions = decode(tokens[keep], reference.meta["vocab"])
    results = evaluate(fake, reference.to_model(reference.x), metrics, captions=captions, matcher=matcher,
                       real_samples=len(reference), **options)
    return results, {"n_fake": len(fake), "n_real": len(reference), "matcher": str(matcher) if matcher else None}
