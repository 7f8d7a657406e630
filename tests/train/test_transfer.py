"""Fine-tuning: init_from loads a run's weights by name, refuses what does not fit, FreezeD freezes blocks."""
from __future__ import annotations

import pytest
import torch

from ganforge.cli import main
from ganforge.config import make_config
from ganforge.errors import GanforgeError
from ganforge.train.trainer import Trainer
from ganforge.train.transfer import blocks

TINY = dict(recipe="dcgan", data="digits", g_width=8, d_width=8, z_dim=8, batch_size=16, sample_every=0,
            log_every=5, device="cpu", collapse_warning=False)


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("source") / "run"
    Trainer(make_config({**TINY, "steps": 6, "out": str(out)}), callbacks=[]).fit()
    return out


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_init_from_loads_every_network_and_the_ema(source_run):
    from ganforge.train.checkpoint import latest_checkpoint

    _, tensors = latest_checkpoint(source_run)
    trainer = Trainer(make_config({**TINY, "steps": 1, "init_from": str(source_run), "seed": 5}), run_dir=None)
    for name, net in trainer.recipe.nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, tensors[f"net.{name}.{key}"]), (name, key)
    ema = trainer.emas["generator"].model.state_dict()
    assert all(torch.equal(v, tensors[f"ema.generator.{k}"]) for k, v in ema.items())
    assert trainer.step == 0 and all(not opt.state for opt in trainer.optimizers.values())  # fresh optimisers
    scratch = Trainer(make_config({**TINY, "steps": 1, "seed": 5}), run_dir=None)
    assert not torch.equal(scratch.recipe.nets["generator"].main[0].weight, trainer.recipe.nets["generator"].main[0].weight)


def test_init_from_names_mismatched_and_missing_tensors(source_run):
    with pytest.raises(GanforgeError, match=r"mismatched shapes .*generator\.main\.0\.weight") as e:
        Trainer(make_config({**TINY, "g_width": 16, "init_from": str(source_run)}), run_dir=None)
    assert "\n" not in str(e.value)
    # spectral norm re-parametrises D's weights: other tensor names
    with pytest.raises(GanforgeError, match=r"missing in the source discriminator\.features\.0\.parametrizations"):
        Trainer(make_config({**TINY, "spectral_norm": True, "init_from": str(source_run)}), run_dir=None)


def test_init_from_a_missing_run_is_one_line(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--steps", "1", "--init-from", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "run")])
    assert code == 2 and "--init-from" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_freeze_d_keeps_the_first_blocks_fixed(source_run):
    trainer = Trainer(make_config({**TINY, "steps": 4, "init_from": str(source_run), "freeze_d": 1}), run_dir=None)
    d = trainer.recipe.nets["discriminator"]
    parts = blocks(d)
    assert len(parts) == 3 and isinstance(parts[0][0], torch.nn.Conv2d)  # conv | conv + BN | head
    assert isinstance(parts[1][1], torch.nn.BatchNorm2d)
    before_frozen, before_rest = _state(parts[0][0]), _state(parts[1][0])
    trainer.fit()
    assert all(torch.equal(v, _state(parts[0][0])[k]) for k, v in before_frozen.items())
    assert not torch.equal(before_rest["weight"], parts[1][0].weight)  # the rest of D trains


def test_freeze_d_refuses_freezing_everything(source_run):
    with pytest.raises(GanforgeError, match="only 3 blocks"):
        Trainer(make_config({**TINY, "init_from": str(source_run), "freeze_d": 3}), run_dir=None)
