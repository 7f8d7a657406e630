"""SeqGAN (Yu, Zhang, Wang & Yu, "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient",
AAAI 2017), following its code (LantaoYu/SeqGAN, ``sequence_gan.py``).

The generator G is an LSTM language model (a stochastic policy: the state is the prefix, the action
the next token); the discriminator D is a CNN classifier of whole sequences. Three stages, by step:

1. **MLE pre-training** (``pretrain_steps``; the paper: 120 epochs of the 10,000 sequences in batches
   of 64 = 18,720 steps): G maximises the likelihood of the data (Adam, lr 0.01, |grad| <= 5).
2. **D pre-training** (``d_pretrain_steps`` rounds, the paper: 50): each round draws fresh negatives
   from G (as many as the data; ``d_negatives`` > 0: that many, against as many random positives, a
   cheaper round than the paper's) and trains D ``d_epochs`` (3) epochs on data vs negatives (cross-entropy + 0.2 x L2 of the output layer, dropout 0.25, Adam lr 1e-4).
3. **Adversarial training** (the remaining steps, the paper: 200): one policy-gradient step of G on
   ``batch_size`` sampled sequences, the reward of token t being D's P(real) averaged over
   ``rollouts`` (16) Monte-Carlo completions of the prefix y_1..t by the *rollout network* (and D's
   score of the whole sequence at t = T); loss -sum_t log G(y_t | y_<t) Q(y_<t, y_t) (a separate Adam,
   lr 0.01, as in the code); then the rollout network moves towards G by delay (0.8 rollout + 0.2 G,
   embeddings copied); then ``d_rounds`` (5) D rounds on fresh negatives as in stage 2.

The rollout network starts as a copy of G at the first adversarial step. It is a frozen network
(never in an optimiser; saved in every checkpoint); the stage counters are the recipe state, so a run
resumes exactly in any stage. ``cfg.steps`` must exceed ``pretrain_steps + d_pretrain_steps``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nets.sequence import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator, LSTMGenerator, delayed_update
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup
from ganforge.recipes.mle_lm import SequenceOptions, SequenceRecipe


@dataclass
class SeqGANOptions(SequenceOptions):
    pretrain_steps: int = option_field(18720, "MLE pre-training steps of G (the paper: 120 epochs x 156 batches)")
    d_pretrain_steps: int = option_field(50, "D pre-training rounds (each: fresh negatives, d_epochs epochs)")
    d_rounds: int = option_field(5, "D rounds after each adversarial G step")
    d_epochs: int = option_field(3, "epochs over data + negatives per D round")
    d_negatives: int = option_field(0, "negatives drawn from G per D round, with as many positives (0: all the "
                                       "training data and as many negatives, as in the paper)")
    rollouts: int = option_field(16, "Monte-Carlo rollouts per prefix for the rewards")
    rollout_delay: float = option_field(0.8, "rollout network update: delay x rollout + (1 - delay) x G")
    d_emb_dim: int = option_field(64, "discriminator embedding size")
    d_filter_sizes: list = option_field(list(PAPER_FILTER_SIZES), "discriminator convolution widths")
    d_num_filters: list = option_field(list(PAPER_NUM_FILTERS), "feature maps per width")
    d_dropout: float = option_field(0.25, "dropout before D's output layer (the code's keep_prob 0.75)")
    d_l2: float = option_field(0.2, "weight of the L2 penalty on D's output layer")


@RECIPES.register("seqgan")
class SeqGAN(SequenceRecipe):
    Options = SeqGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        o = self.options
        if len(o.d_filter_sizes) != len(o.d_num_filters) or not all(
                isinstance(v, int) and v > 0 for v in [*o.d_filter_sizes, *o.d_num_filters]):
            raise GanforgeError("options d_filter_sizes and d_num_filters must be lists of positive integers of the "
                                "same length, e.g. {d_filter_sizes: [2, 3], d_num_filters: [16, 16]}.")
        if min(o.d_filter_sizes) > self.seq_len:
            raise GanforgeError(f"every discriminator filter is wider than the sequences ({self.seq_len} tokens); "
                                f"give smaller d_filter_sizes.")
        for name in ("pretrain_steps", "d_pretrain_steps", "d_rounds", "d_epochs", "d_negatives", "rollouts"):
            if getattr(o, name) < (1 if name in ("d_epochs", "rollouts") else 0):
                raise GanforgeError(f"option {name} is {getattr(o, name)}; it must be a non-negative integer "
                                    f"(d_epochs and rollouts: at least 1).")
        if not 0.0 <= o.rollout_delay <= 1.0:
            raise GanforgeError(f"option rollout_delay is {o.rollout_delay}; it must be in [0, 1] (the paper: 0.8).")
        self.adversarial_start = o.pretrain_steps + o.d_pretrain_steps
        if cfg.steps <= self.adversarial_start:  # a first piece of a longer run is fine; a whole run is not SeqGAN
            warnings.warn(f"seqgan trains {o.pretrain_steps} MLE steps and {o.d_pretrain_steps} D rounds before its "
                          f"adversarial steps; with --steps {cfg.steps} this run ends before them (resume it with more "
                          f"--steps, or lower options pretrain_steps / d_pretrain_steps).", stacklevel=2)
        self.add_network("discriminator", CNNDiscriminator(self.vocab, self.seq_len, o.d_emb_dim, o.d_filter_sizes,
                                                           o.d_num_filters, o.d_dropout))
        self.add_network("rollout", LSTMGenerator(self.vocab, o.emb_dim, o.hidden_dim), frozen=True)
        self.d_pretrain_rounds = self.d_rounds_total = self.pg_steps = 0
        self.rollout_synced = False

    def optimizer_groups(self):
        betas = (self.cfg.beta1, self.cfg.beta2)
        # The code keeps two Adam optimisers for G (pre-training and adversarial), hence two groups.
        return {"mle": OptimizerGroup(("generator",), self.cfg.lr_g, betas),
                "policy": OptimizerGroup(("generator",), self.cfg.lr_g, betas),
                "discriminator": OptimizerGroup(("discriminator",), self.cfg.lr_d, betas)}

    def phases(self):
        return []

    def train_step(self, step, ctx):
        if step < self.options.pretrain_steps:
            self.mle_step(ctx)
        elif step < self.adversarial_start:
            self.record_d(ctx, [self.discriminator_round(ctx)])
            self.d_pretrain_rounds += 1
        else:
            self.policy_step(ctx)
            self.record_d(ctx, [self.discriminator_round(ctx) for _ in range(self.options.d_rounds)])

    # -- the discriminator --------------------------------------------------------------------------
    def discriminator_round(self, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh negatives from G, then ``d_epochs`` epochs of D on data vs negatives. Returns the round's
        mean loss and accuracy (detached). Shuffles use the global RNG, which checkpoints restore."""
        o, batch = self.options, self.cfg.batch_size
        real = self.dataset.x.to(self.device)
        n_fake = o.d_negatives or len(real)
        if n_fake < len(real):  # fewer negatives than data: as many random positives, so the classes stay balanced
            real = real[torch.randperm(len(real), device=self.device)[:n_fake]]
        gen = self.nets["generator"]
        fake = torch.cat([gen.sample(len(c), self.seq_len) for c in torch.arange(n_fake, device=self.device).split(4096)])
        x = torch.cat([real, fake])
        y = torch.cat([torch.ones(len(real)), torch.zeros(n_fake)]).long().to(self.device)
        losses, accuracies = [], []
        for _ in range(o.d_epochs):
            order = torch.randperm(len(x), device=self.device)
            for i in range(len(x) // batch):  # the code's loader drops the last partial batch
                idx = order[i * batch:(i + 1) * batch]
                logits = self.discriminator(x[idx]).float()
                ce = F.cross_entropy(logits, y[idx])
                self.optimise(ctx, "discriminator", "discriminator", ce + o.d_l2 * self.nets["discriminator"].l2_penalty())
                losses.append(ce.detach())
                accuracies.append((logits.argmax(1) == y[idx]).float().mean().detach())
        self.d_rounds_total += 1
        return torch.stack(losses).mean(), torch.stack(accuracies).mean()

    def record_d(self, ctx, rounds) -> None:
        if not rounds:  # d_rounds 0: a policy-gradient-only ablation
            return
        loss = torch.stack([r[0] for r in rounds]).mean()
        ctx.trainer.record("D", loss, {"d_loss": loss, "d_acc": torch.stack([r[1] for r in rounds]).mean()})

    # -- the policy gradient ------------------------------------------------------------------------
    @torch.no_grad()
    def rewards(self, x: torch.Tensor) -> torch.Tensor:
        """Q(y_<t, y_t) for every token of x ``(B, T)``: D's mean P(real) over ``rollouts`` completions of
        the prefix y_1..t by the rollout network (t < T), and D's P(real) of x itself at t = T."""
        r, (b, t) = self.options.rollouts, x.shape
        prefix = x.repeat(r, 1)
        out = torch.empty(b, t, device=x.device)
        for given in range(1, t):
            done = self.nets["rollout"].sample(r * b, t, prefix=prefix, given=given)
            out[:, given - 1] = self.nets["discriminator"].prob_real(done).view(r, b).mean(0)
        out[:, t - 1] = self.nets["discriminator"].prob_real(x)
        return out

    def policy_step(self, ctx) -> None:
        if not self.rollout_synced:  # the first adversarial step: the rollout network starts as G
            self.nets["rollout"].load_state_dict(self.nets["generator"].state_dict())
            self.rollout_synced = True
        x = self.nets["generator"].sample(self.cfg.batch_size, self.seq_len)
        rewards = self.rewards(x)
        log_probs = F.log_softmax(self.generator(x).float(), -1).gather(-1, x.unsqueeze(-1)).squeeze(-1)
        loss = -(log_probs * rewards).sum()  # the code's g_loss: a sum over tokens and sequences
        self.optimise(ctx, "policy", "generator", loss, self.options.g_clip)
        delayed_update(self.nets["rollout"], self.nets["generator"], self.options.rollout_delay)
        ctx.trainer.record("PG", loss, {"reward": rewards.mean(), "nll_samples": -log_probs.detach().mean()})
        self.pg_steps += 1

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self):
        return {**super().state_dict(), "d_pretrain_rounds": self.d_pretrain_rounds, "d_rounds": self.d_rounds_total,
                "pg_steps": self.pg_steps, "rollout_synced": self.rollout_synced}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.d_pretrain_rounds, self.d_rounds_total = int(state["d_pretrain_rounds"]), int(state["d_rounds"])
        self.pg_steps, self.rollout_synced = int(state["pg_steps"]), bool(state["rollout_synced"])
