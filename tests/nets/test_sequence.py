"""SeqGAN's networks: the oracle's N(0, 1) draw, prefix-completing rollouts, the delayed update, the CNN."""
from __future__ import annotations

import torch

from ganforge.nets.sequence import CNNDiscriminator, LSTMGenerator, delayed_update, oracle_lstm


def test_oracle_is_a_seeded_standard_normal_draw_that_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a, b = oracle_lstm(vocab=5000, seed=7), oracle_lstm(vocab=5000, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    weights = a.out.weight
    assert abs(float(weights.std()) - 1.0) < 0.02 and abs(float(weights.mean())) < 0.02
    assert not any(p.requires_grad for p in a.parameters())
    assert not torch.equal(oracle_lstm(vocab=5000, seed=8).out.weight, weights)


def test_rollout_keeps_the_given_prefix_and_samples_the_rest():
    g = LSTMGenerator(30)
    prefix = torch.randint(0, 30, (64, 12))
    done = g.sample(64, 12, prefix=prefix, given=5, generator=torch.Generator().manual_seed(0))
    assert done.shape == (64, 12) and torch.equal(done[:, :5], prefix[:, :5])
    assert not torch.equal(done[:, 5:], prefix[:, 5:])


def test_delayed_update_moves_lstm_and_output_by_rate_and_copies_the_embedding():
    rollout, g = LSTMGenerator(10), LSTMGenerator(10)
    before = {k: v.clone() for k, v in rollout.state_dict().items()}
    delayed_update(rollout, g, 0.8)
    for name, value in rollout.state_dict().items():
        target = g.state_dict()[name] if name.startswith("embedding.") else 0.8 * before[name] + 0.2 * g.state_dict()[name]
        assert torch.allclose(value, target), name


def test_discriminator_drops_filters_wider_than_the_sequence_and_scores_probabilities():
    d = CNNDiscriminator(50, seq_len=8)  # the paper's widths 10, 15, 20 do not fit 8 tokens
    assert [c.kernel_size[0] for c in d.convs] == [1, 2, 3, 4, 5, 6, 7, 8]
    p = d.prob_real(torch.randint(0, 50, (5, 8)))
    assert p.shape == (5,) and bool(((p > 0) & (p < 1)).all()) and d.training


def test_categorical_draws_follow_the_probabilities():
    from ganforge.nets.sequence import categorical

    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3]]).repeat(20000, 1)
    draws = categorical(probs, torch.Generator().manual_seed(0)).squeeze(1)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert torch.allclose(freq, probs[0], atol=0.015) and int(freq[1]) == 0
