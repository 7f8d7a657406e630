"""The recipe base's parts: optimiser groups, phases, schedules, typed batches, samplers, options."""
from __future__ import annotations

import pytest
import torch

from ganforge.config import make_config
from ganforge.data import Batch, BatchSampler, Dataset, MultiSourceSampler
from ganforge.errors import GanforgeError
from ganforge.options import Option, check_options, parse_options
from ganforge.recipes import RECIPES, OptimizerGroup, Phase, Schedule
from ganforge.recipes.base import decay_start
from ganforge.train.trainer import Trainer
from tests.recipes.shapes import ThreeNets


def test_lazy_regularisation_correction_of_an_optimizer_group():
    group = OptimizerGroup(("d",), lr=0.0025, betas=(0.0, 0.99), lazy_interval=16)
    lr, betas = group.effective()
    c = 16 / 17  # StyleGAN2: mb_ratio = interval / (interval + 1)
    assert lr == pytest.approx(0.0025 * c) and betas == (0.0, pytest.approx(0.99 ** c))
    opt = group.build([torch.nn.Parameter(torch.zeros(2))])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0025 * c)
    assert OptimizerGroup(("d",), 1e-3).effective() == (1e-3, (0.5, 0.999))
    with pytest.raises(GanforgeError, match="unknown optimiser"):
        OptimizerGroup(("d",), 1e-3, optimizer="sgdx").build([torch.nn.Parameter(torch.zeros(1))])


def test_phase_gating_by_interval_and_stage():
    phase = Phase("R", "d", lambda b, s: None, interval=4, when=lambda step: step >= 8)
    assert [s for s in range(20) if phase.due(s)] == [8, 12, 16]


def test_typed_batch():
    x, y, tokens = torch.zeros(4, 3), torch.arange(4), torch.randint(0, 9, (4, 5))
    batch = Batch(x, y, kinds={"x": "vector", "y": "label", "tokens": "tokens"}, tokens=tokens)
    assert batch.x is x and batch.y is y and batch["tokens"] is tokens and batch.size == 4
    assert set(batch) == {"x", "y", "tokens"} and batch.kind("tokens") == "tokens"
    assert batch.take(2).size == 2 and batch.replace(x=x + 1)["tokens"] is tokens
    with pytest.raises(KeyError, match="has no field 'caption'"):
        batch["caption"]


def test_fields_keep_their_kinds_through_the_sampler():
    n = 40
    data = Dataset("t", torch.randint(0, 255, (n, 1, 4, 4), dtype=torch.uint8), torch.arange(n) % 3, kind="image",
                   fields={"tokens": torch.randint(0, 50, (n, 7)), "attrs": torch.randint(0, 2, (n, 5)).float()},
                   field_kinds={"tokens": "tokens", "attrs": "labels"})
    batch = BatchSampler(data, 8, seed=0).next()
    assert batch.x.dtype == torch.float32 and batch.x.min() >= -1 and batch.x.max() <= 1
    assert batch["tokens"].dtype == torch.int64  # integer tokens stay integers
    assert batch["attrs"].dtype == torch.float32 and batch.y.dtype == torch.int64
    # the same row in every field
    sampler = BatchSampler(data, 8, seed=0)
    b = sampler.next()
    rows = [int((data.fields["tokens"] == t).all(1).nonzero()[0]) for t in b["tokens"]]
    assert torch.equal(b.y, data.y[rows])
    with pytest.raises(GanforgeError, match="unknown field kind"):
        Dataset("t", data.x, fields={"z": data.x}, field_kinds={"z": "pixels"})
    with pytest.raises(GanforgeError, match="field 'z' has 3 samples"):
        Dataset("t", data.x, fields={"z": data.x[:3]}, field_kinds={"z": "image"})


def test_multi_source_sampler_draws_each_source_independently_and_resumes():
    a = Dataset("A", torch.arange(30, dtype=torch.float32)[:, None], kind="vector")
    b = Dataset("B", 100 + torch.arange(50, dtype=torch.float32)[:, None], kind="vector")
    sampler = MultiSourceSampler({"A": a, "B": b}, 5, seed=1)
    batches = [sampler.next() for _ in range(8)]  # A's epoch is 6 batches, B's 10: they wrap apart
    assert all(set(x.fields) == {"A", "B"} for x in batches)
    assert sorted(torch.cat([x["A"] for x in batches[:6]]).flatten().tolist()) == list(range(30))
    resumed = MultiSourceSampler({"A": a, "B": b}, 5, seed=1)
    resumed.drawn = 5
    assert torch.equal(resumed.next()["B"], batches[5]["B"])
    # two ranks get disjoint shards of each source
    r0 = MultiSourceSampler({"A": a, "B": b}, 5, seed=1, rank=0, world_size=2).next()
    r1 = MultiSourceSampler({"A": a, "B": b}, 5, seed=1, rank=1, world_size=2).next()
    assert not set(r0["B"].flatten().tolist()) & set(r1["B"].flatten().tolist())


def test_options_are_typed_and_checked():
    from dataclasses import dataclass

    @dataclass
    class Opts:
        depth: int = 3
        rate: float = 0.5

    parsed = parse_options(Opts, {"depth": 5, "rate": 1, "other": "x"}, "recipe 't'")
    assert parsed.depth == 5 and parsed.rate == 1.0 and isinstance(parsed.rate, float)
    with pytest.raises(GanforgeError, match="option 'depth' of recipe 't' is 'deep'; it must be int"):
        parse_options(Opts, {"depth": "deep"}, "recipe 't'")
    with pytest.raises(GanforgeError, match="must be int"):
        parse_options(Opts, {"depth": True}, "recipe 't'")  # a bool is not an int here
    specs = {"recipe 't'": Opts, "dataset 'd'": {"n_samples": Option(int, 10)}}
    check_options({"depth": 1, "n_samples": 3}, specs)
    with pytest.raises(GanforgeError, match="unknown option 'n_sample'.*Did you mean 'n_samples'.*Valid options: "
                                            "depth, n_samples, rate"):
        check_options({"n_sample": 3}, specs)


class ResetAndShrink(ThreeNets):
    """Progressive-growth-like schedule: at the stage switch the discriminator's optimiser starts afresh
    and the batch shrinks to half."""

    def schedule(self, step):
        if step < self.options.switch_at:
            return None
        return Schedule(reset=("discriminator",) if step == self.options.switch_at else (), batch_size=16)


@pytest.fixture
def reset_recipe():
    RECIPES.register("test-reset")(ResetAndShrink)
    yield
    RECIPES.unregister("test-reset")


def test_schedule_resets_an_optimizer_and_shrinks_the_batch(tmp_path, reset_recipe):
    cfg = make_config({"recipe": "test-reset", "data": "toy-ring", "options": {"n_samples": 256, "switch_at": 3},
                       "steps": 3, "batch_size": 32, "z_dim": 4, "device": "cpu", "deterministic": True})
    trainer = Trainer(cfg, run_dir=None, callbacks=[])
    trainer.fit()
    assert trainer.optimizers["discriminator"].state == {}  # D never stepped before the switch
    sizes = []
    original = trainer.recipe.discriminator_phase
    trainer.recipe.discriminator_phase = lambda batch, step: (sizes.append(batch.size), original(batch, step))[1]
    trainer.phases = trainer.recipe.phases()
    trainer.cfg = cfg.replace(steps=5)
    trainer.train_step()
    assert trainer.batch_size == 16 and sizes == [16, 16]
    state_after_switch = dict(trainer.optimizers["discriminator"].state)
    assert state_after_switch  # stepped once after the reset


def test_lr_decay_start_below_one_is_a_fraction_of_the_steps():
    """pix2pix's YAML says 0.5: with --steps 100 the decay spans steps 50..100 (an absolute 10,000 meant
    no decay at all in a short run); 1 and above stay absolute steps."""
    assert decay_start(make_config({"recipe": "pix2pix", "steps": 100})) == 50
    assert decay_start(make_config({"recipe": "pix2pix", "steps": 100, "lr_decay_start": 80})) == 80
    assert decay_start(make_config({"recipe": "vanilla", "steps": 100})) == 0
    recipe = Trainer(make_config({"steps": 10, "lr_decay_start": 0.5, "device": "cpu"}), run_dir=None).recipe
    assert recipe.schedule(4) is None
    assert set(recipe.schedule(5).lr.values()) == {1.0}
    assert all(f == pytest.approx(0.4) for f in recipe.schedule(8).lr.values())
