"""Shared fixtures. The only place that knows where the offline test data lives.

Real data and models are found through GANFORGE_TEST_DATA / GANFORGE_TEST_MODELS, defaulting to the
workplace's `../shared/` folder beside the repository. The library itself never assumes it.
"""
from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread per process, set before torch loads (and inherited by the subprocesses that
# the crash-safety and distributed tests start): the suite's networks are tiny, where OpenMP
# threads cost more than they give, and a spinning second thread starves any concurrent process
# on a 2-core machine (measured: small-net steps up to 100x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = Path(os.environ.get("GANFORGE_TEST_DATA", SHARED / "data"))
SHARED_MODELS = Path(os.environ.get("GANFORGE_TEST_MODELS", SHARED / "models"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Each test session gets its own cache (classifiers, reference stats): nothing leaks in from a user's."""
    cache = tmp_path_factory.mktemp("ganforge-cache")
    old = os.environ.get("GANFORGE_CACHE")
    os.environ["GANFORGE_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("GANFORGE_CACHE", None)
    else:
        os.environ["GANFORGE_CACHE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory with fashion-mnist/ and mnist-10k/ (IDX, gzip)."""
    if not (SHARED_DATA / "fashion-mnist").is_dir():
        pytest.skip(f"offline test data not found at {SHARED_DATA}; set GANFORGE_TEST_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def inception_torchscript() -> Path:
    path = SHARED_MODELS / "inception-2015-12-05-pool3.torchscript.pt"
    if not path.is_file():
        pytest.skip(f"Inception TorchScript file not found at {path}; set GANFORGE_TEST_MODELS")
    return path
