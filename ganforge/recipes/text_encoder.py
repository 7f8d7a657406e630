"""``text-encoder``: an image-text matching model trained on captioned images (``--data captions``).

A caption encoder (bidirectional GRU) and an image encoder (small CNN) trained together with the
sentence-level DAMSM loss of AttnGAN (Xu et al., CVPR 2018; ``ganforge.losses.matching``): matching
(image, caption) pairs of a batch close in cosine similarity, the others apart. No pretrained text
model is available offline, so this is how text is embedded here:

- StackGAN trains one of its own as its first stage (``ganforge.recipes.stackgan``);
- a separately trained run of this recipe (other seed, its own weights) is the judge of StackGAN's
  R-precision (``ganforge.metrics.rprecision``), as AttnGAN's R-precision uses a DAMSM trained apart
  from the generator.

    ganforge train --recipe text-encoder --data captions --data-dir emoji/openmoji \\
        --options '{images: color, caption_column: annotation}' --out runs/matcher

Checkpoints are the usual safetensors + JSON; the vocabulary is the run's data record
(``data.json`` -> ``meta.vocab``). This recipe draws nothing: ``sample`` is an error.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.data.captions import encode, tokenize
from ganforge.errors import GanforgeError
from ganforge.losses.matching import matching_loss
from ganforge.nets.text import ImageEncoder, TextEncoder
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Phase, Recipe


@dataclass
class TextEncoderOptions:
    embed_dim: int = option_field(128, "dimension of the shared image-text embedding")
    gamma: float = option_field(10.0, "DAMSM's gamma3: sharpness of the matching softmax")


def caption_vocab(dataset, recipe: str) -> list[str]:
    """The vocabulary of a captioned dataset (``--data captions``), or a clear error."""
    vocab = (dataset.meta or {}).get("vocab")
    if "caption" not in dataset.fields or not vocab or dataset.kind != "image":
        raise GanforgeError(f"{recipe} needs images with captions (--data captions: an image folder and a CSV of "
                            f"file, caption); dataset {dataset.name!r} has none.")
    return list(vocab)


def prompt_tokens(prompt, vocab: list[str], max_words: int) -> tuple[torch.Tensor, list[str]]:
    """Token ids (N, max_words) of a prompt (a string or a list of strings) and the words the vocabulary
    does not know (they are dropped). A prompt with no known word is an error naming some known ones."""
    prompts = [prompt] if isinstance(prompt, str) else [str(p) for p in prompt]
    known = set(vocab[2:])
    kept, unknown = [], []
    for text in prompts:
        words = tokenize(text)
        unknown += [w for w in words if w not in known]
        kept.append(" ".join(w for w in words if w in known))
        if not kept[-1]:
            examples = ", ".join(vocab[2:12])
            raise GanforgeError(f"prompt {text!r} has no word the model was trained on (known words include "
                                f"{examples}, ...); rephrase it with the captions' words.")
    tokens, _ = encode(kept, vocab, max_words)
    return tokens, sorted(set(unknown))


@RECIPES.register("text-encoder")
class TextEncoderRecipe(Recipe):
    task = "text"
    inference_networks = ("text_encoder", "image_encoder")
    Options = TextEncoderOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        vocab = caption_vocab(dataset, "text-encoder")
        c, size = dataset.shape[0], dataset.shape[-1]
        d = self.options.embed_dim
        self.add_network("text_encoder", TextEncoder(len(vocab), d))
        self.add_network("image_encoder", ImageEncoder(c, size, d, cfg.d_width))

    def optimizer_groups(self):
        return {"matching": OptimizerGroup(("text_encoder", "image_encoder"), self.cfg.lr_d,
                                           (self.cfg.beta1, self.cfg.beta2), optimizer=self.cfg.optimizer)}

    def phases(self):
        return [Phase("M", "matching", self.loss)]

    def loss(self, batch, step):
        tokens = batch["caption"]
        loss = matching_loss(self.image_encoder(batch.x), self.text_encoder(tokens), tokens, self.options.gamma)
        return loss, {"match_loss": loss.detach()}

    def sample(self, n, seed=0, nets=None, **knobs):
        raise GanforgeError("text-encoder is an image-text matching model and draws no samples; use its run to score "
                            "text-to-image models (R-precision, docs/TEXT_TO_IMAGE.md).")
