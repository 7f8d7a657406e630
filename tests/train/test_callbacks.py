import importlib.util

import pytest

import ganforge
from ganforge.config import make_config
from ganforge.errors import GanforgeError

TINY = dict(steps=4, batch_size=16, g_width=8, d_width=8, z_dim=8, log_every=2, sample_every=2, checkpoint_every=0)
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


@pytest.mark.skipif(HAS_TENSORBOARD, reason="tensorboard is installed")
def test_tensorboard_without_the_package_is_a_clear_error(tmp_path):
    with pytest.raises(GanforgeError, match="pip install"):
        ganforge.train(make_config({**TINY, "tensorboard": True, "out": str(tmp_path / "r")}))


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="needs the tensorboard extra")
def test_tensorboard_event_files_are_written(tmp_path):
    run = ganforge.train(make_config({**TINY, "tensorboard": True, "out": str(tmp_path / "r")}))
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_eval_every_logs_the_metric_curve(tmp_path):
    import json

    run = ganforge.train(make_config({**TINY, "steps": 4, "eval_every": 2, "eval_samples": 50,
                                      "eval_metrics": "fid", "out": str(tmp_path / "r")}))
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "eval" in r]
    assert [r["step"] for r in evals] == [2, 4] and all(r["eval"]["fid"] > 0 for r in evals)
