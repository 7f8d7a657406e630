"""BC-loss: the estimator is unbiased (Monte Carlo), gradients reach G and never the classifiers,
edge cases (rare classes, unconditional, buffer) behave as documented."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.losses.bc import (BoundaryCalibration, classwise_mmd2, median_bandwidth, mmd2_plugin,
                                mmd2_unbiased, parse_kinds)
from ganforge.utils.hardware import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Thousands of tiny ops: intra-op threads only add overhead (10x on a busy 2-core machine)."""
    with torch_threads(1):  # the previous count is given back afterwards
        yield


def _posteriors(n, shift, scale, gen, d=3):
    """Softmax of Gaussian logits: a spread-out posterior population (large covariance trace)."""
    logits = torch.randn(n, d, generator=gen, dtype=torch.float64) * scale
    logits[:, 0] += shift
    return torch.softmax(logits, dim=1)


def _monte_carlo(kernel, bandwidth, batches=1500, per_class=4):
    """Mean and standard error of the U-statistic and of the plug-in over many tiny class-balanced
    batches drawn i.i.d. (with replacement) from fixed finite populations; and the population value."""
    gen = torch.Generator().manual_seed(1)
    C = 3
    real = [_posteriors(600, shift=c * 0.7, scale=2.0, gen=gen) for c in range(C)]
    fake = [_posteriors(600, shift=c * 0.7 + 0.5, scale=1.2, gen=gen) for c in range(C)]
    population = sum(mmd2_plugin(real[c], fake[c], kernel, bandwidth) for c in range(C)) / C
    u, plug = torch.empty(batches, dtype=torch.float64), torch.empty(batches, dtype=torch.float64)
    labels = torch.arange(C).repeat_interleave(per_class)
    for b in range(batches):
        p = torch.cat([real[c][torch.randint(600, (per_class,), generator=gen)] for c in range(C)])
        q = torch.cat([fake[c][torch.randint(600, (per_class,), generator=gen)] for c in range(C)])
        total, used = classwise_mmd2(p, labels, q, labels, kernel, bandwidth, C)
        assert used == C
        u[b] = total / used
        plug[b] = sum(mmd2_plugin(p[labels == c], q[labels == c], kernel, bandwidth) for c in range(C)) / C
    se = lambda v: v.std() / batches**0.5  # noqa: E731
    return float(population), (float(u.mean()), float(se(u))), (float(plug.mean()), float(se(plug)))


@pytest.mark.parametrize("kernel,bandwidth", [("linear", 1.0), ("rbf", 0.3)])
def test_u_statistic_is_unbiased_and_plugin_is_not(kernel, bandwidth):
    population, (u_mean, u_se), (plug_mean, plug_se) = _monte_carlo(kernel, bandwidth)
    assert population > 0
    assert abs(u_mean - population) < 4 * u_se, (u_mean, population, u_se)
    # the plug-in's expectation is population + (tr Σ_p / n + tr Σ_q / m): far above, in SE units
    assert plug_mean - population > 10 * plug_se, (plug_mean, population, plug_se)


def test_linear_u_statistic_equals_pairwise_definition():
    gen = torch.Generator().manual_seed(0)
    p, q = torch.rand(5, 4, generator=gen, dtype=torch.float64), torch.rand(7, 4, generator=gen, dtype=torch.float64)
    pp = sum(p[i] @ p[j] for i in range(5) for j in range(5) if i != j) / 20
    qq = sum(q[i] @ q[j] for i in range(7) for j in range(7) if i != j) / 42
    pq = sum(p[i] @ q[j] for i in range(5) for j in range(7)) / 35
    expected = pp + qq - 2 * pq
    assert torch.allclose(mmd2_unbiased(p, q, "linear"), expected)
    # the Gram-matrix path computes the same number: the linear shortcut is just faster
    from ganforge.losses.bc import _mean_offdiagonal, gram
    via_gram = _mean_offdiagonal(gram(p, p)) + _mean_offdiagonal(gram(q, q)) - 2 * gram(p, q).mean()
    assert torch.allclose(via_gram, expected)


def test_rbf_on_identical_sets_is_below_zero_and_separates_spread():
    gen = torch.Generator().manual_seed(0)
    p = _posteriors(200, 0.0, 2.0, gen)
    # same mean, different spread: the linear statistic misses it, the RBF MMD² does not
    narrow = p.mean(0, keepdim=True).repeat(200, 1) + 1e-3 * torch.randn(200, 3, generator=gen, dtype=torch.float64)
    assert abs(float(mmd2_unbiased(p, narrow, "linear"))) < 5e-3
    assert float(mmd2_unbiased(p, narrow, "rbf", 0.2)) > 0.1
    assert float(mmd2_unbiased(p, p.clone(), "rbf", 0.2)) < 0  # U-statistic of x vs x: −2/(n−1)·(…)


def test_rare_classes_are_skipped_and_none_left_gives_connected_zero():
    gen = torch.Generator().manual_seed(0)
    p, q = torch.rand(6, 3, generator=gen), torch.rand(6, 3, generator=gen, requires_grad=True)
    real_y = torch.tensor([0, 0, 1, 1, 2, 2])
    fake_y = torch.tensor([0, 0, 1, 1, 1, 2])  # class 2 has a single fake sample
    total, used = classwise_mmd2(p, real_y, q, fake_y, num_classes=3)
    assert used == 2
    expected = mmd2_unbiased(p[:2], q[:2]) + mmd2_unbiased(p[2:4], q[2:5])
    assert torch.allclose(total, expected)
    zero, used = classwise_mmd2(p[:1], real_y[:1], q, fake_y, num_classes=3)
    assert used == 0 and float(zero.detach()) == 0.0
    zero.backward()
    assert q.grad is not None and torch.all(q.grad == 0)


def test_median_bandwidth_is_clamped():
    assert median_bandwidth(torch.zeros(10, 3)) == pytest.approx(0.05)
    two = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).repeat(10, 1)
    assert median_bandwidth(two) == pytest.approx(2**0.5, rel=1e-6)


def test_parse_kinds():
    assert parse_kinds("logreg, mlp,cnn", "image") == ["logreg", "mlp", "cnn"]
    assert parse_kinds("logreg,mlp,cnn", "vector") == ["logreg", "mlp"]
    for bad, kind in [("svm", "vector"), ("", "vector"), ("cnn", "vector")]:
        with pytest.raises(GanforgeError):
            parse_kinds(bad, kind)


# ---- the module, with small hand-made frozen classifiers (no dependency on training) -------------
def _toy(num_classes=3, n=900, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat(n // num_classes)
    centers = torch.randn(num_classes, 2, generator=gen) * 1.5
    x = centers[y] + torch.randn(n, 2, generator=gen)
    data = SimpleNamespace(x=x, y=y, num_classes=num_classes, kind="vector", name="toy", to_model=lambda t: t.float())
    torch.manual_seed(seed)
    classifiers = [nn.Linear(2, num_classes), nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, num_classes))]
    return data, classifiers


def _cfg(**kw):
    return Config(**{"bc_classifiers": "logreg,mlp", **kw})


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_module_is_unbiased_for_the_population_value(kernel):
    data, classifiers = _toy()
    bc = BoundaryCalibration(_cfg(bc_kernel=kernel), data, classifiers=classifiers)
    gen = torch.Generator().manual_seed(3)
    fake_x = data.x * 0.6 + 0.8  # a fixed "generator output" population, labels shared with data
    with torch.no_grad():
        population = sum(
            sum(mmd2_plugin(pr[data.y == c], pf[data.y == c], kernel, bw) for c in range(3)) / 3
            for pr, pf, bw in zip(bc.posteriors(data.x), bc.posteriors(fake_x), bc.bandwidths)) / 2
        values, by_class = [], [torch.nonzero(data.y == c).squeeze(1) for c in range(3)]
        for _ in range(600):
            idx, jdx = (torch.cat([by_class[c][torch.randint(300, (3,), generator=gen)] for c in range(3)])
                        for _ in range(2))
            values.append(float(bc(fake_x[jdx], data.y[jdx], SimpleNamespace(x=data.x[idx], y=data.y[idx]))))
    values = torch.tensor(values, dtype=torch.float64)
    se = values.std() / len(values) ** 0.5
    assert float(population) > 10 * se  # the test has power: the value is far from zero
    assert abs(values.mean() - population) < 4 * se


@pytest.mark.parametrize("kernel,source", [("linear", "batch"), ("rbf", "buffer")])
def test_gradient_reaches_generator_never_classifiers(kernel, source):
    data, classifiers = _toy()
    bc = BoundaryCalibration(_cfg(bc_kernel=kernel, bc_source=source), data, classifiers=classifiers)
    generator = nn.Linear(4 + 3, 2)
    y = torch.arange(3).repeat(8)
    z = torch.cat([torch.randn(24, 4), nn.functional.one_hot(y, 3).float()], 1)
    loss = bc(generator(z), y, SimpleNamespace(x=data.x[:24], y=data.y[:24]))
    assert loss.dtype == torch.float32 and loss.dim() == 0
    loss.backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    assert torch.isfinite(generator.weight.grad).all()
    for h in bc.classifiers:
        for param in h.parameters():
            assert not param.requires_grad and param.grad is None
    assert not any(p.requires_grad for p in bc.parameters())  # nothing for an optimiser to pick up
    bc.train()
    assert not any(h.training for h in bc.classifiers)


def test_minimising_bc_calibrates_the_generator():
    """Gradient descent on the BC-loss alone moves G's posteriors to the real ones (value falls 10x)."""
    data, classifiers = _toy(seed=1)
    bc = BoundaryCalibration(_cfg(), data, classifiers=classifiers)
    torch.manual_seed(0)
    shift = nn.Parameter(torch.full((3, 2), 2.0))  # a per-class translated copy of the data as "G"
    opt = torch.optim.Adam([shift], lr=0.05)

    def population():
        with torch.no_grad():
            return float(bc(data.x + shift[data.y], data.y, data))

    before = population()
    for _ in range(150):
        idx = torch.randint(900, (48,))
        real = SimpleNamespace(x=data.x[idx.flip(0)], y=data.y[idx.flip(0)])
        loss = bc(data.x[idx] + shift[data.y[idx]], data.y[idx], real)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert population() < before / 10, (before, population())


def test_unconditional_pools_classes():
    data, classifiers = _toy()
    bc = BoundaryCalibration(_cfg(), data, classifiers=classifiers)
    fake = data.x[:30] + 1.0
    real = SimpleNamespace(x=data.x[30:60], y=None)
    with torch.no_grad():
        expected = sum(mmd2_unbiased(pr, pf) for pr, pf in zip(bc.posteriors(real.x), bc.posteriors(fake))) / 2
        assert torch.allclose(bc(fake, None, real), expected.float())
        with pytest.raises(GanforgeError, match="labels"):
            bc(fake, data.y[:30], real)


def test_buffer_is_a_per_class_fifo_and_feeds_the_estimator():
    data, classifiers = _toy()
    bc = BoundaryCalibration(_cfg(bc_source="buffer"), data, classifiers=classifiers, buffer_per_class=4)
    fake, fake_y = data.x[:9] + 0.5, data.y[:9]
    for start in range(0, 30, 6):  # 5 batches of 6 = 10 rows per class, capacity 4 per class
        with torch.no_grad():
            value = bc(fake, fake_y, SimpleNamespace(x=data.x[start:start + 6], y=data.y[start:start + 6]))
    assert bc._filled.tolist() == [4, 4, 4]
    with torch.no_grad():
        kept = [torch.nonzero(data.y[:30] == c).squeeze(1)[-4:] for c in range(3)]  # the 4 newest per class
        idx = torch.cat(kept)
        expected = sum(classwise_mmd2(pr, data.y[idx], pf, fake_y, "linear", 1.0, 3)[0] / 3
                       for pr, pf in zip(bc.posteriors(data.x[idx]), bc.posteriors(fake))) / 2
    assert torch.allclose(value, expected.float(), atol=1e-6)


def test_output_is_fp32_under_bf16_autocast():
    data, classifiers = _toy()
    bc = BoundaryCalibration(_cfg(), data, classifiers=classifiers)
    fake, real = data.x[:30] + 1.0, SimpleNamespace(x=data.x[30:60], y=data.y[30:60])
    with torch.no_grad():
        exact = bc(fake, data.y[:30], real)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = bc(fake, data.y[:30], real)
    assert mixed.dtype == torch.float32 and torch.allclose(mixed, exact)


def test_temperature_divides_the_logits_and_one_is_the_plain_softmax():
    data, classifiers = _toy()
    x = data.x[:30]
    plain = BoundaryCalibration(_cfg(), data, classifiers=classifiers)
    hot = BoundaryCalibration(_cfg(bc_temperature=4.0), data, classifiers=classifiers)
    with torch.no_grad():
        for h, p1, p4 in zip(classifiers, plain.posteriors(x), hot.posteriors(x)):
            assert torch.equal(p1, torch.softmax(h(x), 1))
            assert torch.allclose(p4, torch.softmax(h(x) / 4.0, 1))
            assert (p4.max(1).values < p1.max(1).values).all()  # softer: every row's top class loses mass
        batch = SimpleNamespace(x=data.x[:60], y=data.y[:60])
        fake = data.x[60:120] * 0.5 + 1.0
        assert float(hot(fake, data.y[60:120], batch)) != float(plain(fake, data.y[60:120], batch))
    with pytest.raises(GanforgeError, match="bc_temperature"):
        BoundaryCalibration(_cfg().replace(bc_temperature=0.0), data, classifiers=classifiers)


def test_unlabelled_dataset_and_bad_options_are_refused():
    data, classifiers = _toy()
    unlabelled = SimpleNamespace(**{**vars(data), "y": None, "num_classes": 0})
    with pytest.raises(GanforgeError, match="labelled"):
        BoundaryCalibration(_cfg(), unlabelled, classifiers=classifiers)
    with pytest.raises(GanforgeError, match="bc_kernel"):
        BoundaryCalibration(_cfg().replace(bc_kernel="poly"), data, classifiers=classifiers)


# ---- inside a real training run (trainer + cgan recipe + the eval team's pretrained classifiers) -------
def _train_cfg(**kw):
    from ganforge.config import make_config

    base = {"recipe": "cgan", "architecture": "mlp", "data": "moons", "steps": 20, "batch_size": 32,
            "g_width": 32, "d_width": 32, "z_dim": 4, "ema_decay": 0.0, "sample_every": 0, "checkpoint_every": 0,
            "channels_last": False, "options": {"n_samples": 1000, "n_test_samples": 200}}
    return make_config({**base, **kw})


def _trainer(cfg):
    from ganforge.train.trainer import Trainer

    trainer = Trainer(cfg, run_dir=None)
    return trainer, torch.get_rng_state()


def _weights(trainer):
    return {f"{name}.{k}": v.clone() for name, net in trainer.recipe.nets.items() for k, v in net.state_dict().items()}


def test_lambda_zero_is_the_base_recipe_bit_for_bit_and_lambda_positive_is_not(monkeypatch):
    import ganforge.losses.bc as bc_module

    with monkeypatch.context() as m:  # base run: prove the BC-loss is never even constructed
        m.setattr(bc_module.BoundaryCalibration, "__init__", lambda *a, **k: pytest.fail("BC built at λ=0"))
        base, base_rng = _trainer(_train_cfg())
        base.fit()
    # λ=0 with every other BC option changed: nothing may differ, to the last bit
    other, _ = _trainer(_train_cfg(bc_kernel="rbf", bc_source="buffer", bc_classifiers="logreg"))
    other.fit()
    for key, value in _weights(base).items():
        assert torch.equal(value, _weights(other)[key]), key
    # λ>0: building the BC-loss (training its classifiers) leaves the run's RNG stream untouched ...
    with_bc, bc_rng = _trainer(_train_cfg(bc_weight=1.0))
    assert isinstance(with_bc.recipe.bc, BoundaryCalibration) and with_bc.recipe.bc.kinds == ["logreg", "mlp"]
    assert torch.equal(base_rng, bc_rng)
    frozen = {k: v.clone() for k, v in with_bc.recipe.bc.state_dict().items()}
    with_bc.fit()
    # ... and the loss does change the generator, never the classifiers
    assert not torch.equal(_weights(base)["generator.main.0.weight"], _weights(with_bc)["generator.main.0.weight"])
    for k, v in with_bc.recipe.bc.state_dict().items():
        assert torch.equal(v, frozen[k]), k
    assert all(p.grad is None and not p.requires_grad for p in with_bc.recipe.bc.parameters())
