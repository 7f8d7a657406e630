"""Unrolled GAN (Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017).

The generator minimises its loss against a *look-ahead* discriminator: ``f_K(theta_G, theta_D) =
f(theta_G, theta_D^K)`` where ``theta_D^{k+1} = theta_D^k + eta dL_D/dtheta_D^k`` are K steps of the
discriminator's own optimiser. G's gradient goes through all K updates (the full second-order version,
paper eq. 12 with its second term, not the first-order "treat theta_D^K as constant" copy): the unroll
is written with ``torch.func.functional_call`` on tensors that keep their graph, and each step's gradient
is taken with ``create_graph=True``.

As in the authors' code (poolio/unrolled_gan), the unrolled optimiser is the training optimiser, Adam,
started from the discriminator optimiser's current moments and step count (so the first unrolled step is
exactly the discriminator's real update), and G and D update simultaneously: G's step uses the unroll from
the current D, then D takes one ordinary step on the same real batch and the same (pre-update) fakes.
``unroll_steps`` (K) = 0 is the plain GAN. Each unrolled step re-evaluates D's loss on the same batch.

Mode metrics: the PacGAN-protocol toy ring / grid (``ganforge eval --metrics modes``) and Stacked MNIST
(``bench/bench_unrolled.py``, the paper's small-discriminator setting).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import functional_call

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss, generator_loss
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase
from ganforge.recipes.objective import ObjectiveGAN

MIN_SECOND_MOMENT = 1e-30  # sqrt has an infinite derivative at 0 (a parameter whose gradient is exactly 0)


@dataclass
class UnrolledOptions:
    unroll_steps: int = option_field(5, "K: discriminator optimiser steps the generator looks ahead through (0: plain GAN)")


@dataclass
class AdamState:
    """What an unrolled Adam step needs: per-parameter moments, the step count, and the hyper-parameters."""
    exp_avg: list[torch.Tensor]
    exp_avg_sq: list[torch.Tensor]
    step: int
    lr: float
    betas: tuple[float, float]
    eps: float

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> "AdamState":
        group = optimizer.param_groups[0]
        states = [optimizer.state.get(p, {}) for p in params]
        zeros = [torch.zeros_like(p) for p in params]
        step = int(states[0]["step"]) if states and states[0] else 0
        return cls([s["exp_avg"].detach() if s else z for s, z in zip(states, zeros)],
                   [s["exp_avg_sq"].detach() if s else z for s, z in zip(states, zeros)],
                   step, float(group["lr"]), tuple(group["betas"]), float(group["eps"]))


def unroll_discriminator(discriminator: torch.nn.Module, loss_fn, real: torch.Tensor, fake: torch.Tensor, steps: int,
                         adam: AdamState) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """theta_D^K after ``steps`` differentiable Adam steps on ``loss_fn(D(real), D(fake))`` (torch's Adam
    formula: ``p -= lr * m_hat / (sqrt(v_hat) + eps)``). The returned parameters keep the graph back to
    ``fake`` (so to G) through every step. Buffers (batch-norm statistics) are copies: the look-ahead never
    changes the real discriminator."""
    names = [n for n, _ in discriminator.named_parameters()]
    params = {n: p.detach().requires_grad_(True) for n, p in discriminator.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in discriminator.named_buffers()}
    m, v = list(adam.exp_avg), list(adam.exp_avg_sq)
    (beta1, beta2), t = adam.betas, adam.step
    for _ in range(steps):
        call = lambda x: functional_call(discriminator, (params, buffers), (x,))  # noqa: E731
        loss = loss_fn(call(real), call(fake))
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True)
        t += 1
        updated = {}
        for i, (name, g) in enumerate(zip(names, grads)):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat, v_hat = m[i] / (1 - beta1 ** t), v[i] / (1 - beta2 ** t)
            updated[name] = params[name] - adam.lr * m_hat / (v_hat.clamp_min(MIN_SECOND_MOMENT).sqrt() + adam.eps)
        params = updated
    return params, buffers


def _logits(out):
    return out[0] if isinstance(out, tuple) else out


@RECIPES.register("unrolled")
class UnrolledGAN(ObjectiveGAN):
    default_architecture = "dcgan"
    Options = UnrolledOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        self.unroll_steps = int(self.options.unroll_steps)
        if self.unroll_steps < 0:
            raise GanforgeError(f"option 'unroll_steps' is {self.unroll_steps}; it must be >= 0 (0: a plain GAN).")
        unsupported = [name for name, on in (("--n-critic", cfg.n_critic != 1), ("--gp-weight", cfg.gp_weight > 0),
                                             ("--r1-gamma", cfg.r1_gamma > 0), ("--bc-weight", cfg.bc_weight > 0),
                                             ("--optimizer", cfg.optimizer != "adam"),
                                             ("--diffaugment / --instance-noise", bool(self.augment) or cfg.instance_noise > 0))
                       if on]
        if unsupported:
            raise GanforgeError(f"recipe 'unrolled' unrolls plain Adam steps of the discriminator's loss; drop "
                                f"{', '.join(unsupported)}.")
        self._d_optimizer = None
        self._fakes = None  # the G phase's fakes, detached: the D phase's negatives (simultaneous update)

    def phases(self) -> list[Phase]:
        return [Phase("G", "generator", self.unrolled_generator_phase),
                Phase("D", "discriminator", self.discriminator_step, new_batch=False)]

    def train_step(self, step, ctx):
        # The look-ahead starts from the discriminator optimiser's state (its moments and step count).
        self._d_optimizer = ctx.trainer.optimizers["discriminator"]
        super().train_step(step, ctx)

    def d_objective(self, real_logits, fake_logits):
        return discriminator_loss(self.cfg.loss, real_logits, fake_logits, real_target=self.real_target)

    def unrolled_generator_phase(self, batch, step):
        fake = self.fake(batch.size)
        self._fakes = fake.detach()
        D = self.nets["discriminator"]
        if self.unroll_steps == 0 or self._d_optimizer is None:
            fake_logits = _logits(self.discriminator(fake))
            real_logits = _logits(self.discriminator(batch.x)).detach() if self.objective.needs_real_for_generator else None
        else:
            params_list = list(D.parameters())
            adam = AdamState.of(self._d_optimizer, params_list)
            loss_fn = lambda r, f: self.d_objective(_logits(r), _logits(f))  # noqa: E731
            params, buffers = unroll_discriminator(D, loss_fn, batch.x, fake, self.unroll_steps, adam)
            fake_logits = _logits(functional_call(D, (params, buffers), (fake,)))
            real_logits = None
            if self.objective.needs_real_for_generator:
                real_logits = _logits(functional_call(D, (params, buffers), (batch.x,))).detach()
        loss = generator_loss(self.cfg.loss, fake_logits, real_logits)
        return loss, {"g_loss": loss.detach()}

    def discriminator_step(self, batch, step):
        fake = self._fakes if self._fakes is not None and len(self._fakes) == batch.size else self.fake(batch.size).detach()
        self._fakes = None
        return super().discriminator_loss(batch, fake, None, step)
