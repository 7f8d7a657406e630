"""Each regulariser checked against its defining property."""
import pytest
import torch
import torch.nn as nn

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss
from ganforge.losses.regularizers import (
    add_instance_noise, apply_spectral_norm, clip_weights, gradient_penalty, has_spectral_norm,
    instance_noise_std, mode_seeking_term, r1_penalty, smoothed_real_target,
)
from ganforge.utils.hardware import torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models: thread hand-offs cost more than the maths (and cores are shared in CI).
    with torch_threads(1):  # the previous count is given back afterwards
        yield


class Critic(nn.Module):
    def __init__(self, scale=1.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
        with torch.no_grad():
            for p in self.net.parameters():
                p.mul_(scale)

    def forward(self, x, y=None):
        return self.net(x).flatten()


def _interpolate_grad_norms(critic, real, fake):
    eps = torch.rand(len(real), 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    return g.norm(dim=1)


def _train_critic(gp_weight, steps=400):
    torch.manual_seed(0)
    critic = Critic(scale=3.0)  # starts far from 1-Lipschitz
    real, fake = torch.randn(128, 2) + 2, torch.randn(128, 2) - 2
    before = _interpolate_grad_norms(critic, real, fake)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        # The WGAN-GP critic objective: the Wasserstein term wants steep slopes, GP pulls them to 1.
        loss = discriminator_loss("wasserstein", critic(real), critic(fake))
        if gp_weight:
            loss = loss + gp_weight * gradient_penalty(critic, real, fake)
        loss.backward()
        opt.step()
    return before, _interpolate_grad_norms(critic, real, fake)


def test_gradient_penalty_drives_interpolate_gradient_norm_to_one():
    before, after = _train_critic(gp_weight=10.0)
    assert before.mean() > 2.0
    assert abs(after.mean().item() - 1) < 0.35 and (after - 1).abs().mean() < 0.4, after
    # Control: without the penalty the same critic's slopes grow without bound.
    _, unpenalised = _train_critic(gp_weight=0.0)
    assert unpenalised.mean() > 2 * before.mean()


def test_gradient_penalty_is_fp32_under_autocast():
    critic = Critic()
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    torch.manual_seed(1)
    plain = gradient_penalty(critic, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = gradient_penalty(critic, real, fake)
    assert under_autocast.dtype == torch.float32
    # bf16 matmuls would be off by ~1e-2 relative: equality proves autocast was switched off inside.
    assert abs(under_autocast.item() - plain.item()) <= 1e-5 * max(1.0, abs(plain.item()))


def test_gradient_penalty_trains_only_the_critic():
    critic = Critic()
    fake = torch.randn(8, 2, requires_grad=True)
    gradient_penalty(critic, torch.randn(8, 2), fake).backward()
    assert fake.grad is None
    assert critic.net[0].weight.grad is not None and critic.net[0].weight.grad.abs().sum() > 0


def test_r1_penalises_the_gradient_on_reals():
    class Quadratic(nn.Module):  # D(x) = sum a * x^2 -> grad = 2 a x, ||grad||^2 = 4 a^2 ||x||^2
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.tensor(1.5))

        def forward(self, x, y=None):
            return (self.a * x.pow(2)).sum(dim=1)

    d = Quadratic()
    real = torch.randn(16, 3)
    penalty = r1_penalty(d, real)
    expected = (4 * 1.5**2 * real.pow(2).sum(dim=1)).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    penalty.backward()  # d/da = 8 a E||x||^2 > 0: minimising R1 flattens D around the data
    assert d.a.grad.item() == pytest.approx((8 * 1.5 * real.pow(2).sum(dim=1)).mean().item(), rel=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert r1_penalty(d, real.bfloat16()).dtype == torch.float32


def test_r1_accepts_auxiliary_classifier_outputs():
    class Aux(nn.Module):
        def forward(self, x, y=None):
            return x.sum(dim=1), torch.zeros(len(x), 3)

    assert r1_penalty(Aux(), torch.randn(4, 5)).item() == pytest.approx(5.0)


def test_spectral_norm_keeps_top_singular_value_near_one():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 8, 4, 2), nn.Flatten(), nn.Linear(8 * 5 * 5, 1),
                        nn.Embedding(10, 8))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(7.0)
    apply_spectral_norm(net)
    apply_spectral_norm(net)  # idempotent: no double parametrisation
    assert has_spectral_norm(net)
    x = torch.randn(4, 3, 14, 14)
    net.train()
    for _ in range(30):  # power iteration converges during training forwards
        net[:5](x)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(layers) == 4
    for layer in layers:
        assert len(layer.parametrizations.weight) == 1
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05), (layer, sigma)
        raw = torch.linalg.matrix_norm(layer.parametrizations.weight.original.detach().flatten(1), ord=2).item()
        assert raw > 2.0  # the stored weight was not normalised: the parametrisation did it
    assert all(isinstance(v, torch.Tensor) for v in net.state_dict().values())


def test_clipping_bounds_every_weight():
    net = Critic(scale=5.0)
    assert max(p.abs().max().item() for p in net.parameters()) > 0.5
    clip_weights(net, 0.01)
    for p in net.parameters():
        assert p.abs().max().item() <= 0.01 + 1e-9
    assert any((p.abs() == 0.01).any() for p in net.parameters())
    with pytest.raises(GanforgeError):
        clip_weights(net, 0.0)


def test_instance_noise_anneals_linearly_to_zero():
    stds = [instance_noise_std(0.2, s, 100) for s in range(0, 121, 10)]
    assert stds[0] == pytest.approx(0.2) and stds[5] == pytest.approx(0.1) and stds[10] == 0.0
    assert stds[-1] == 0.0 and all(a >= b for a, b in zip(stds, stds[1:]))
    torch.manual_seed(0)
    x = torch.zeros(20000, 2)
    assert add_instance_noise(x, 0.3).std().item() == pytest.approx(0.3, rel=0.03)
    assert add_instance_noise(x, 0.0) is x


def test_one_sided_label_smoothing_target():
    target = smoothed_real_target(0.1)
    assert target == pytest.approx(0.9)
    # The optimal discriminator under the smoothed loss outputs 0.9 on reals and 0 on fakes.
    real_logit = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([real_logit], lr=5.0)
    for _ in range(300):
        opt.zero_grad()
        discriminator_loss("nonsaturating", real_logit, torch.full((1,), -20.0), real_target=target).backward()
        opt.step()
    assert torch.sigmoid(real_logit).item() == pytest.approx(0.9, abs=1e-3)
    with pytest.raises(GanforgeError):
        smoothed_real_target(1.0)


def test_mode_seeking_term_is_the_inverse_distance_ratio_of_the_halves():
    z = torch.tensor([[0.0, 0.0], [1.0, 3.0]])  # pairs (row 0, row 1): mean |z1 - z2| = 2
    fake = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 4.0]])  # mean |G1 - G2| = 2
    assert mode_seeking_term(fake, z).item() == pytest.approx(1 / (1 + 1e-5))
    assert mode_seeking_term(fake * 3, z).item() == pytest.approx(1 / (3 + 1e-5))  # farther apart: smaller
    collapsed = torch.ones(4, 3)  # a generator that ignores z
    assert mode_seeking_term(collapsed, torch.randn(4, 2)).item() == pytest.approx(1e5)
    odd = torch.tensor([[0.0], [5.0], [9.0], [0.0], [7.0]])  # pairs (0, 3) and (1, 4); the middle one is alone
    assert mode_seeking_term(odd, odd).item() == pytest.approx(1 / (1 + 1e-5))
    assert mode_seeking_term(odd, torch.tensor([[0.0], [0.0], [9.0], [0.5], [0.5]])).item() == pytest.approx(1 / (2 + 1e-5))
    with pytest.raises(GanforgeError, match="at least 2"):
        mode_seeking_term(torch.ones(1, 3), torch.ones(1, 2))


def test_mode_seeking_gradient_pushes_the_pair_apart():
    fake = torch.tensor([[0.0, 1.0], [0.5, 0.5]], requires_grad=True)
    mode_seeking_term(fake, torch.tensor([[0.0], [1.0]])).backward()
    step = -fake.grad  # gradient descent on the term
    assert torch.all((fake[0] - fake[1]).detach() * (step[0] - step[1]) > 0)
