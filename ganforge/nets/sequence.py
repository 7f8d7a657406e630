"""Networks for discrete sequences: SeqGAN's LSTM generator / oracle and its CNN discriminator.

After Yu et al., "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient" (AAAI 2017) and
their code (LantaoYu/SeqGAN): the generator is a one-layer LSTM language model that starts from a
start token (id 0) and samples a fixed number of tokens; the synthetic-data *oracle* is the same LSTM
with every parameter drawn from N(0, 1) (``TARGET_LSTM``); the discriminator is Kim's CNN for
sentence classification: max-over-time pooled convolutions of 12 widths, a highway layer, dropout and
a two-way softmax (fake, real).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The paper's discriminator (its code's dis_filter_sizes / dis_num_filters, 1,720 feature maps).
PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


def categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row of ``probs`` ``(N, V)`` -> ``(N, 1)``, by inverting the cumulative distribution
    (the same distribution as torch.multinomial, ~6x faster on CPU for a 5,000-token vocabulary)."""
    cdf = probs.cumsum(-1)
    u = torch.rand(len(probs), 1, generator=generator, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.shape[-1] - 1)


class LSTMGenerator(nn.Module):
    """An LSTM language model over ``vocab`` tokens: embedding -> LSTM -> linear logits.

    Every parameter is drawn from N(0, ``init_std``) as in the reference code (0.1 for the generator,
    1.0 for the oracle); the recurrent bias is zero because the TF cell has one bias per gate.
    """

    def __init__(self, vocab: int, emb_dim: int = 32, hidden_dim: int = 32, start_token: int = 0,
                 init_std: float = 0.1):
        super().__init__()
        self.vocab, self.start_token = vocab, start_token
        self.embedding = nn.Embedding(vocab, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab)
        for p in self.parameters():
            nn.init.normal_(p, 0.0, init_std)
        nn.init.zeros_(self.lstm.bias_hh_l0)

    def _start(self, n: int, device) -> torch.Tensor:
        return torch.full((n, 1), self.start_token, dtype=torch.long, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, V)``: position t predicts x[:, t] from the start token and x[:, :t]."""
        inputs = torch.cat([self._start(len(x), x.device), x[:, :-1]], 1)
        hidden, _ = self.lstm(self.embedding(inputs))
        return self.out(hidden)

    def log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_t | x_<t) per token, ``(B, T)``."""
        return F.log_softmax(self(x).float(), -1).gather(-1, x.unsqueeze(-1)).squeeze(-1)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per token (the paper's NLL, in nats)."""
        return -self.log_probs(x).mean()

    @torch.no_grad()
    def sample(self, n: int, length: int, temperature: float = 1.0, prefix: torch.Tensor | None = None,
               given: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` tokens; the first ``given`` are ``prefix[:, :given]`` (Monte-Carlo
        rollouts complete a prefix) and the rest are drawn from softmax(logits / temperature)."""
        device = self.out.weight.device
        inputs = self._start(n, device)
        if given > 0:
            inputs = torch.cat([inputs, prefix[:, :given]], 1)
        hidden, state = self.lstm(self.embedding(inputs))
        h = hidden[:, -1]
        tokens = [prefix[:, :given]] if given > 0 else []
        for _ in range(length - given):
            token = categorical(F.softmax(self.out(h).float() / temperature, -1), generator)
            tokens.append(token)
            hidden, state = self.lstm(self.embedding(token), state)
            h = hidden[:, -1]
        return torch.cat(tokens, 1)


def oracle_lstm(vocab: int = 5000, emb_dim: int = 32, hidden_dim: int = 32, seed: int = 0) -> LSTMGenerator:
    """SeqGAN's synthetic-data oracle: a random LSTM whose parameters are N(0, 1) (a seeded draw; the
    paper's own oracle is a fixed pickle of such a draw), in eval mode and without gradients."""
    with torch.random.fork_rng(devices=[]):  # the global RNG (training's) is left untouched
        torch.manual_seed(seed)
        oracle = LSTMGenerator(vocab, emb_dim, hidden_dim, init_std=1.0)
    return oracle.requires_grad_(False).eval()


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015) as in the SeqGAN code: t * relu(W_h x) + (1 - t) * x."""

    def __init__(self, size: int):
        super().__init__()
        self.transform, self.gate = nn.Linear(size, size), nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.sigmoid(self.gate(x))
        return t * F.relu(self.transform(x)) + (1 - t) * x


class CNNDiscriminator(nn.Module):
    """Kim's sentence CNN as SeqGAN's discriminator: logits ``(B, 2)`` for (fake, real).

    Filters wider than the sequence are dropped (the paper's widths go up to its length of 20).
    ``l2_penalty()`` is the code's L2 term on the output layer (weight lambda = 0.2 in the loss).
    """

    def __init__(self, vocab: int, seq_len: int, emb_dim: int = 64, filter_sizes=PAPER_FILTER_SIZES,
                 num_filters=PAPER_NUM_FILTERS, dropout: float = 0.25):
        super().__init__()
        pairs = [(k, n) for k, n in zip(filter_sizes, num_filters) if k <= seq_len]
        if not pairs:
            raise ValueError(f"no discriminator filter fits sequences of length {seq_len}")
        self.embedding = nn.Embedding(vocab, emb_dim)
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, k) for k, n in pairs)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1)
            nn.init.constant_(conv.bias, 0.1)
        total = sum(n for _, n in pairs)
        self.highway = Highway(total)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(total, 2)
        nn.init.trunc_normal_(self.out.weight, std=0.1)
        nn.init.constant_(self.out.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x).transpose(1, 2)  # (B, E, T)
        pooled = torch.cat([F.relu(conv(e)).amax(-1) for conv in self.convs], 1)
        return self.out(self.dropout(self.highway(pooled)))

    def l2_penalty(self) -> torch.Tensor:
        """tf.nn.l2_loss of the output layer's weight and bias (sum of squares / 2)."""
        return (self.out.weight.square().sum() + self.out.bias.square().sum()) / 2

    @torch.no_grad()
    def prob_real(self, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
        """P(real | x) in eval mode (no dropout), as SeqGAN's rewards use it."""
        was = self.training
        self.eval()
        out = torch.cat([F.softmax(self(chunk).float(), -1)[:, 1] for chunk in x.split(batch)])
        self.train(was)
        return out


@torch.no_grad()
def delayed_update(rollout: LSTMGenerator, generator: LSTMGenerator, rate: float) -> None:
    """SeqGAN's ``ROLLOUT.update_params``: the rollout network's LSTM and output layer move to
    rate * rollout + (1 - rate) * generator; its embedding is copied outright (as the code does)."""
    for (name, r), g in zip(rollout.named_parameters(), generator.parameters()):
        if name.startswith("embedding."):
            r.copy_(g)
        else:
            r.mul_(rate).add_(g, alpha=1 - rate)
