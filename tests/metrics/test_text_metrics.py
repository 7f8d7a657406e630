"""BLEU / self-BLEU against hand-computed values and a brute-force reference; oracle NLL's direction."""
from __future__ import annotations

import math
import random

import pytest
import torch

from ganforge.metrics.text import corpus_bleu, oracle_nll, self_bleu, sentence_bleu
from ganforge.nets.sequence import oracle_lstm

HYP = "the cat sat on the mat".split()
REF = "the cat is on the mat".split()


def test_sentence_bleu_matches_a_hand_computed_example():
    # unigrams: 5 of 6 match (the x2, cat, on, mat); bigrams: 3 of 5 (the cat, on the, the mat);
    # trigrams: 1 of 4 (on the mat); 4-grams: 0 of 3 -> NLTK method1 smoothing 0.1 / 3; equal lengths: BP = 1
    assert sentence_bleu([REF], HYP, 2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert sentence_bleu([REF], HYP, 4) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)
    # a short hypothesis pays the brevity penalty exp(1 - r / c) = exp(1 - 6 / 2)
    assert sentence_bleu([REF], ["the", "cat"], 2) == pytest.approx(math.exp(-2))
    # the closest reference length wins (ties: the shorter), clipping takes the max count over references
    assert sentence_bleu([REF, "a b c d e f g".split()], HYP, 2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert sentence_bleu([REF], "dog dog".split(), 2) == 0.0  # no unigram in common


def test_corpus_and_self_bleu_agree_with_brute_force():
    rng = random.Random(0)
    words = "a b c d e f".split()
    sentences = [[rng.choice(words) for _ in range(rng.randint(2, 9))] for _ in range(30)]
    sentences += [sentences[0][:]]  # a duplicate: its self-BLEU against the copy is 1
    refs = sentences[:10]
    for order, value in corpus_bleu(sentences, refs).items():
        assert value == pytest.approx(sum(sentence_bleu(refs, h, order) for h in sentences) / len(sentences))
    for order, value in self_bleu(sentences).items():
        brute = [sentence_bleu(sentences[:i] + sentences[i + 1:], h, order) for i, h in enumerate(sentences)]
        assert value == pytest.approx(sum(brute) / len(brute))
    assert corpus_bleu(refs, refs)[2] == pytest.approx(1.0)  # every sentence has >= 2 tokens


def test_oracle_nll_prefers_the_oracles_own_samples():
    oracle = oracle_lstm(vocab=200, seed=3)
    own = oracle.sample(500, 20, generator=torch.Generator().manual_seed(0))
    uniform = torch.randint(0, 200, (500, 20), generator=torch.Generator().manual_seed(1))
    assert oracle_nll(oracle, own) < oracle_nll(oracle, uniform) - 2
