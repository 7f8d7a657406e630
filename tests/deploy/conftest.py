"""Tiny trained runs shared by the deployment tests (trained once per session, a few seconds in all)."""
from __future__ import annotations

import socket
import threading
import time
import warnings

import pytest

import ganforge
from ganforge.data import DATASETS
from ganforge.recipes import RECIPES
from tests.recipes.shapes import Translate, load_negatives

warnings.filterwarnings("ignore", message=".*httpx.*")  # starlette's TestClient notice

TINY = {"steps": 5, "batch_size": 16, "log_every": 5, "sample_every": 0, "checkpoint_every": 5, "seed": 0}
TRANSLATE, NEGATIVES = "test-deploy-translate", "test-deploy-digits-negative"


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """{"dcgan": run, "cgan": run, "translate": run, "stylegan2": run, "began": run, "infogan": run}; the image-input fixture recipe stays registered
    for the session (loading its run needs it)."""
    RECIPES.register(TRANSLATE)(Translate)
    DATASETS.register(NEGATIVES)(load_negatives)
    root = tmp_path_factory.mktemp("deploy-runs")
    out = {
        "dcgan": ganforge.train({"recipe": "dcgan", "data": "digits", "out": str(root / "dcgan"), **TINY}),
        "cgan": ganforge.train({"recipe": "cgan", "data": "digits", "out": str(root / "cgan"), **TINY}),
        "translate": ganforge.train({"recipe": TRANSLATE, "data": NEGATIVES, "out": str(root / "translate"),
                                     "ema_decay": 0.0, **TINY}),
        "stylegan2": ganforge.train({"recipe": "stylegan2", "data": "digits", "out": str(root / "stylegan2"), **TINY,
                                     "steps": 2, "batch_size": 8, "g_width": 8, "d_width": 8,
                                     "options": {"w_dim": 32, "mapping_layers": 2}}),
        # BEGAN draws z uniformly in [-1, 1] (latent_prior "uniform"): export and the explorer must too
        "began": ganforge.train({"recipe": "began", "data": "digits", "out": str(root / "began"), **TINY,
                                 "steps": 2, "batch_size": 8}),
        "infogan": ganforge.train({"recipe": "infogan", "data": "digits", "out": str(root / "infogan"), **TINY,
                                   "steps": 2, "batch_size": 8}),
    }
    yield out
    RECIPES.unregister(TRANSLATE)
    DATASETS.unregister(NEGATIVES)


@pytest.fixture(scope="session")
def generators(runs):
    return {name: ganforge.load(run) for name, run in runs.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                   timeout_keep_alive=5))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
