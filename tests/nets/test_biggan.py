"""BigGAN networks: hierarchical latent, shared embedding into conditional BN, self-attention, spectral
norm, orthogonal regularisation and the truncation trick."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.nets.biggan import (
    BigGANDiscriminator, BigGANGenerator, HierarchicalBatchNorm, SelfAttention, orthogonal_penalty, truncated_normal,
)


def small_generator(**kw):
    args = dict(z_dim=48, channels=3, size=16, num_classes=5, width=8, shared_dim=8, attention=-1)
    return BigGANGenerator(**{**args, **kw})


def test_orthogonal_penalty_value_and_gradient():
    torch.manual_seed(0)
    w = torch.randn(6, 3, 2, 2, requires_grad=True)
    m = w.detach().flatten(1)
    off_diagonal = m @ m.t() * (1 - torch.eye(6))
    expected = off_diagonal.pow(2).sum()
    penalty = orthogonal_penalty([w])
    assert torch.allclose(penalty, expected)
    penalty.backward()
    # d/dW ||W W^T ⊙ (1 - I)||^2 = 4 (W W^T ⊙ (1 - I)) W
    assert torch.allclose(w.grad.flatten(1), 4 * off_diagonal @ m, atol=1e-5)
    # orthogonal rows of any norm are not penalised (only the off-diagonal of the Gram matrix counts)
    q = torch.linalg.qr(torch.randn(5, 5))[0] * torch.tensor([[1.0], [2.0], [3.0], [0.5], [7.0]])
    assert orthogonal_penalty([q]) < 1e-8


def test_hierarchical_latent_feeds_every_block_with_the_shared_embedding():
    torch.manual_seed(0)
    G = small_generator().eval()
    assert G.slots == 3 and [c.shape[1] for c in G.split(torch.zeros(2, 48))] == [16, 16, 16]
    seen = []
    for block in G.blocks:
        block.bn1.register_forward_hook(lambda m, args, out: seen.append(args[1].detach().clone()))
    z, y = torch.randn(2, 48), torch.tensor([1, 3])
    x = G(z, y)
    assert x.shape == (2, 3, 16, 16) and len(seen) == 2
    for i, cond in enumerate(seen):  # each block: [shared(y), its own z chunk]
        assert torch.equal(cond[:, :8], G.shared(y)) and torch.equal(cond[:, 8:], G.split(z)[i + 1])
    # every chunk matters: changing one block's chunk changes the image
    for i in range(3):
        z2 = z.clone()
        z2[:, i * 16:(i + 1) * 16] += 1
        assert not torch.allclose(G(z2, y), x)
    with pytest.raises(GanforgeError, match="z_dim 50 does not divide"):
        small_generator(z_dim=50)


def test_spectral_norm_everywhere_but_the_shared_embedding_and_attention_placement():
    G, D = small_generator(), BigGANDiscriminator(3, 16, 5, width=8)
    assert not hasattr(G.shared, "parametrizations")
    assert all(hasattr(m, "parametrizations") for m in G.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    assert all(hasattr(m, "parametrizations") for m in D.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding)))
    assert isinstance(G.attention, SelfAttention) and G.attention_after == 0  # 8x8 = half of 16
    assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 1
    assert sum(isinstance(m, HierarchicalBatchNorm) for m in G.modules()) == 4
    assert small_generator(attention=0).attention is None
    with pytest.raises(GanforgeError, match="self-attention at 5x5"):
        small_generator(attention=5)
    regularized = G.regularized_weights()
    assert all(p.dim() >= 2 for p in regularized) and not any(p is G.shared.weight for p in regularized)
    x = torch.rand(4, 3, 16, 16)
    assert not torch.allclose(D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)))


def test_truncation_resamples_beyond_the_threshold():
    g = torch.Generator().manual_seed(3)
    z = truncated_normal(500, 64, 0.5, generator=g)
    assert z.abs().max() <= 0.5 and z.std() > 0.2  # bounded, not collapsed to 0
    same = truncated_normal(500, 64, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z, same)
    loose = truncated_normal(8, 16, 100.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(loose, torch.randn(8, 16, generator=torch.Generator().manual_seed(4)))  # nothing resampled
    with pytest.raises(GanforgeError, match="positive threshold"):
        truncated_normal(2, 2, 0.0)
