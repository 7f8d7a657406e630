"""Distillation: the student is a normal run (load, sample, export, serve, init-from) that learned the teacher."""
from __future__ import annotations

import pytest

import ganforge
from ganforge.cli import main
from ganforge.config import make_config
from ganforge.distillation import distill
from ganforge.errors import GanforgeError
from ganforge.train.trainer import Trainer


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("distill") / "teacher"
    cfg = make_config({"data": "digits", "g_width": 16, "d_width": 8, "z_dim": 8, "steps": 40, "batch_size": 32,
                       "sample_every": 0, "log_every": 20, "device": "cpu", "collapse_warning": False, "out": str(out)})
    Trainer(cfg, callbacks=[]).fit()
    return out


def gap(student, teacher, n=64):
    return float((student.sample(n, seed=3) - teacher.sample(n, seed=3)).abs().mean())


def test_student_learns_the_teacher_and_is_a_normal_run(teacher, tmp_path, capsys):
    assert main(["distill", str(teacher), "--width", "4", "--steps", "150", "--out", str(tmp_path / "s")]) == 0
    student, big = ganforge.load(tmp_path / "s"), ganforge.load(teacher)
    count = lambda g: sum(p.numel() for p in g.module.parameters())  # noqa: E731
    assert student.config.g_width == 4 and count(student) < count(big) / 3
    control = tmp_path / "control"  # the same student after one step: far from the teacher
    distill(teacher, 4, control, steps=1)
    assert gap(student, big) < 0.6 * gap(ganforge.load(control), big), (gap(student, big), gap(ganforge.load(control), big))
    assert main(["sample", str(tmp_path / "s"), "-n", "8", "--out", str(tmp_path / "g.png")]) == 0
    assert main(["export", str(tmp_path / "s"), "--format", "torchscript", "--out", str(tmp_path / "s.pt")]) == 0
    assert main(["train", "--data", "digits", "--g-width", "4", "--d-width", "8", "--z-dim", "8", "--steps", "1",
                 "--init-from", str(tmp_path / "s"), "--out", str(tmp_path / "ft")]) == 0


def test_student_serves(teacher, tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from ganforge.deploy.server import create_app, load_models

    distill(teacher, 4, tmp_path / "s", steps=2, adversarial=0.1)  # with the adversarial term
    with TestClient(create_app(load_models([f"small={tmp_path / 's'}"]))) as client:
        response = client.post("/models/small/sample", json={"n": 4, "format": "png"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"


def test_distill_refuses_bad_input(teacher, tmp_path):
    with pytest.raises(GanforgeError, match="width"):
        ganforge.distill(teacher, 0, tmp_path / "a")  # the package-level API
    distill(teacher, 4, tmp_path / "b", steps=1)
    with pytest.raises(GanforgeError, match="already holds a run"):
        distill(teacher, 4, tmp_path / "b", steps=1)
