"""Metrics of generated token sequences: BLEU, self-BLEU, oracle NLL and NLL-test.

- ``bleu`` -> ``bleu2``, ``bleu3``, ``bleu4``: the text-GAN protocol of Texygen (Zhu et al. 2018, used by
  LeakGAN, RelGAN and Caccia et al. 2020): each generated sentence is scored by sentence-level BLEU-n
  (uniform weights over 1..n-grams, brevity penalty with the closest reference length, NLTK's
  smoothing "method1": a zero n-gram match count becomes 0.1) against *all* reference sentences (the
  test split), and the scores are averaged. Higher: more real-looking n-grams (quality).
- ``self-bleu`` -> ``self_bleu2..4``: the same with each generated sentence against all the *other*
  generated ones. Higher: less diverse.
- ``oracle-nll``: SeqGAN's synthetic-data score, the mean per-token NLL of generated sequences under
  the oracle LSTM (``--data oracle`` runs). Lower: better quality.
- ``nll-test``: the generator's own per-token NLL of the real test sequences (Caccia et al.'s
  diversity side for the oracle; needs the generator). Lower: better coverage.

Sequences are cut at their first ``<eos>`` (token id 0 of the text datasets) before BLEU.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter

import torch

from ganforge.data.text import decode_tokens, oracle_of
from ganforge.errors import GanforgeError
from ganforge.metrics import METRICS

SMOOTHING_EPSILON = 0.1  # NLTK SmoothingFunction().method1


def ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _closest(lengths: list[int], c: int) -> int:
    """The reference length closest to c (ties: the shorter), ``lengths`` sorted."""
    i = bisect_left(lengths, c)
    candidates = lengths[max(0, i - 1):i + 1]
    return min(candidates, key=lambda r: (abs(r - c), r))


def _score(hyp: list[str], max_counts, ref_len: int, order: int) -> float:
    """Sentence BLEU-``order`` of ``hyp`` given, per n, the max count of each n-gram in the references."""
    c = len(hyp)
    if c == 0:
        return 0.0
    log_sum = 0.0
    for n in range(1, order + 1):
        counts = ngrams(hyp, n)
        matched = sum(min(k, max_counts(n, gram)) for gram, k in counts.items())
        total = max(1, sum(counts.values()))
        if n == 1 and matched == 0:
            return 0.0  # NLTK: no unigram in common scores 0 whatever the smoothing
        log_sum += math.log((matched if matched else SMOOTHING_EPSILON) / total) / order
    penalty = 1.0 if c > ref_len else math.exp(1 - ref_len / c)
    return penalty * math.exp(log_sum)


def sentence_bleu(references: list[list[str]], hypothesis: list[str], order: int = 4) -> float:
    """NLTK's ``sentence_bleu(references, hypothesis, weights=(1/order,)*order, method1)``."""
    tables = {n: Counter() for n in range(1, order + 1)}
    for ref in references:
        for n in tables:
            for gram, k in ngrams(ref, n).items():
                tables[n][gram] = max(tables[n][gram], k)
    return _score(hypothesis, lambda n, g: tables[n][g], _closest(sorted(map(len, references)), len(hypothesis)), order)


def corpus_bleu(hypotheses: list[list[str]], references: list[list[str]], orders=(2, 3, 4)) -> dict[int, float]:
    """Mean sentence BLEU of each hypothesis against all references, per order (Texygen's BLEU)."""
    top = max(orders)
    tables = {n: Counter() for n in range(1, top + 1)}
    for ref in references:
        for n in tables:
            for gram, k in ngrams(ref, n).items():
                if k > tables[n][gram]:
                    tables[n][gram] = k
    lengths = sorted(map(len, references))
    out = {}
    for order in orders:
        scores = [_score(h, lambda n, g: tables[n][g], _closest(lengths, len(h)), order) for h in hypotheses]
        out[order] = sum(scores) / len(scores)
    return out


def self_bleu(hypotheses: list[list[str]], orders=(2, 3, 4)) -> dict[int, float]:
    """Mean sentence BLEU of each hypothesis against all the others (Texygen's self-BLEU), in one pass:
    per n-gram the largest count, how many sentences reach it and the runner-up, so leaving one sentence
    out needs no recount."""
    if len(hypotheses) < 2:
        raise GanforgeError("self-BLEU needs at least 2 generated sentences.")
    top = max(orders)
    counts = [{n: ngrams(h, n) for n in range(1, top + 1)} for h in hypotheses]
    best: dict[tuple, list[int]] = {}  # (n, gram) -> [max, sentences at max, runner-up]
    for sentence in counts:
        for n, table in sentence.items():
            for gram, k in table.items():
                entry = best.setdefault((n, gram), [0, 0, 0])
                if k > entry[0]:
                    entry[:] = [k, 1, entry[0]]
                elif k == entry[0]:
                    entry[1] += 1
                elif k > entry[2]:
                    entry[2] = k
    lengths = sorted(map(len, hypotheses))
    out = {order: 0.0 for order in orders}
    for h, sentence in zip(hypotheses, counts):
        def others_max(n, gram, sentence=sentence):
            top_count, at_top, runner_up = best[(n, gram)]
            return runner_up if sentence[n][gram] == top_count and at_top == 1 else top_count

        others = list(lengths)
        others.remove(len(h))
        ref_len = _closest(others, len(h))
        for order in orders:
            out[order] += _score(h, others_max, ref_len, order) / len(hypotheses)
    return out


@torch.no_grad()
def oracle_nll(oracle, x: torch.Tensor, batch: int = 4096) -> float:
    """Mean per-token NLL of sequences ``x`` under the oracle LSTM (SeqGAN's NLL_oracle)."""
    total = sum(float(-oracle.log_probs(chunk).sum()) for chunk in x.split(batch))
    return total / x.numel()


@torch.no_grad()
def model_nll(generator, x: torch.Tensor, temperature: float = 1.0, batch: int = 4096) -> float:
    """Mean per-token NLL of real sequences ``x`` under a generator at ``temperature`` (NLL-test)."""
    was = generator.training
    generator.eval()
    total = 0.0
    for chunk in x.split(batch):
        logits = generator(chunk).float() / temperature
        total += float(-torch.log_softmax(logits, -1).gather(-1, chunk.unsqueeze(-1)).sum())
    generator.train(was)
    return total / x.numel()


def _sentences(ctx, x: torch.Tensor) -> list[list[str]]:
    if ctx.dataset is None:
        raise GanforgeError("BLEU needs the real token dataset (its vocabulary and test sentences).")
    return decode_tokens(ctx.dataset.meta, x)


def _tokens(ctx) -> torch.Tensor:
    if ctx.fake.dtype != torch.long:
        raise GanforgeError("text metrics (bleu, self-bleu, oracle-nll, nll-test) need token sequences; this run "
                            "generates something else.")
    return ctx.fake


@METRICS.register("bleu")
def bleu_metric(ctx) -> dict[str, float]:
    scores = corpus_bleu(_sentences(ctx, _tokens(ctx)), _sentences(ctx, ctx.real))
    return {f"bleu{n}": v for n, v in scores.items()}


@METRICS.register("self-bleu")
def self_bleu_metric(ctx) -> dict[str, float]:
    return {f"self_bleu{n}": v for n, v in self_bleu(_sentences(ctx, _tokens(ctx))).items()}


@METRICS.register("oracle-nll")
def oracle_nll_metric(ctx) -> dict[str, float]:
    if ctx.dataset is None:
        raise GanforgeError("oracle NLL needs the oracle dataset of the run (--data oracle).")
    return {"oracle_nll": oracle_nll(oracle_of(ctx.dataset.meta), _tokens(ctx))}


@METRICS.register("nll-test")
def nll_test_metric(ctx) -> dict[str, float]:
    module = getattr(ctx.generator, "module", None)
    if module is None or ctx.dataset is None or not hasattr(module, "log_probs"):
        raise GanforgeError("nll-test needs a sequence generator run (seqgan, mle-lm) and its real test data.")
    return {"nll_test": model_nll(module, ctx.real, float(ctx.options.get("temperature", 1.0)))}
