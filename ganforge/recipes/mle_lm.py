"""``mle-lm``: an LSTM language model trained by maximum likelihood, sampled with a temperature.

The baseline of Caccia et al., "Language GANs Falling Short" (ICLR 2020): a plain MLE language model
whose softmax temperature trades quality for diversity (T < 1: likelier, less diverse samples). They
found that, compared at equal diversity, it matches or beats the text GANs of the time, SeqGAN
among them. The generator is SeqGAN's LSTM (``ganforge.nets.sequence.LSTMGenerator``) trained with
SeqGAN's pre-training settings (Adam, lr 0.01, gradient norm clipped at 5), so ``mle-lm`` is also
exactly SeqGAN's MLE stage run alone. Data: token datasets (``--data text`` or ``--data oracle``).

Sampling: ``ganforge sample RUN -n 100 --out samples.txt --temperature 0.8``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nets.sequence import LSTMGenerator
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Recipe, Samples


@dataclass
class SequenceOptions:
    emb_dim: int = option_field(32, "generator embedding size (SeqGAN: 32)")
    hidden_dim: int = option_field(32, "generator LSTM hidden size (SeqGAN: 32)")
    g_clip: float = option_field(5.0, "clip the generator's gradient norm to this (SeqGAN's grad_clip: 5.0)")
    temperature: float = option_field(1.0, "default sampling temperature (the --temperature knob overrides it)")


def check_temperature(value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.01 <= value <= 100:
        raise GanforgeError(f"temperature is {value!r}; it must be a number in [0.01, 100] (1: the model's own "
                            f"distribution, below 1: likelier, less diverse samples).")
    return float(value)


class SequenceRecipe(Recipe):
    """What every token-sequence recipe shares: the LSTM generator, its MLE loss and sampling."""

    task = "noise"
    knobs = ("temperature",)
    inference_networks = ("generator",)
    Options = SequenceOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if dataset.kind != "tokens":
            raise GanforgeError(f"recipe {cfg.recipe!r} models token sequences but dataset {dataset.name!r} holds "
                                f"{dataset.kind} data; use --data text or --data oracle.")
        self.vocab = int(dataset.meta.get("vocab_size") or len(dataset.meta["vocab"]))
        self.seq_len = int(dataset.shape[0])
        check_temperature(self.options.temperature)
        self.add_network("generator", LSTMGenerator(self.vocab, self.options.emb_dim, self.options.hidden_dim))
        self.mle_steps = 0

    def optimise(self, ctx, group: str, network: str, loss: torch.Tensor, clip: float = 0.0) -> None:
        """One optimiser step of ``group`` on ``loss``, clipping ``network``'s gradient norm first when
        ``clip`` > 0 (SeqGAN clips only G, so the trainer's global --grad-clip is not used). Losses are
        logged by the caller, once per training step (a step may hold many optimiser steps)."""
        net = self.nets[network]
        net.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        ctx.step(group)

    def mle_step(self, ctx) -> None:
        x = ctx.batch().x
        logits = self.generator(x)
        loss = F.cross_entropy(logits.float().flatten(0, 1), x.flatten())
        self.optimise(ctx, "mle", "generator", loss, self.options.g_clip)
        ctx.trainer.record("MLE", loss, {"nll": loss.detach()})
        self.mle_steps += 1

    def state_dict(self):
        return {"mle_steps": self.mle_steps}

    def load_state_dict(self, state):
        self.mle_steps = int(state["mle_steps"])

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, temperature=None):
        net = self.inference(nets, "generator")
        t = check_temperature(self.options.temperature if temperature is None else temperature)
        g = torch.Generator(self.device).manual_seed(seed)
        was = net.training
        net.eval()
        x = torch.cat([net.sample(len(chunk), self.seq_len, t, generator=g)
                       for chunk in torch.arange(n).split(4096)])
        net.train(was)
        return Samples(x.cpu())

    def preview(self, n, seed=0, nets=None):
        return None  # tokens have no picture; `ganforge sample RUN --out samples.txt` shows sentences


@RECIPES.register("mle-lm")
class MLELanguageModel(SequenceRecipe):
    def optimizer_groups(self):
        return {"mle": OptimizerGroup(("generator",), self.cfg.lr_g, (self.cfg.beta1, self.cfg.beta2))}

    def phases(self):
        return []

    def train_step(self, step, ctx):
        self.mle_step(ctx)
