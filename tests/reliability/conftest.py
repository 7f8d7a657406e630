import pytest

from ganforge.utils.hardware import torch_threads


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Nothing downloads in these tests: a missing dataset must fail at once with its message."""
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_thread():
    """The networks here are tiny: extra intra-op threads only add spin-waiting, which on a shared
    2-core box made a step 10-100x slower. Restored afterwards (other tests keep their setting)."""
    with torch_threads(1):  # the previous count is given back afterwards
        yield


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Two tiny finished runs shared by the catalogue: unconditional (vanilla/toy-ring), conditional (cgan/digits)."""
    from ganforge.cli import main
    from tests.reliability.catalogue import TINY, TOY

    root = tmp_path_factory.mktemp("catalogue-runs")
    runs = {}
    for name, argv in {"vanilla": TOY, "cgan": ["--recipe", "cgan", "--data", "digits", *TINY]}.items():
        assert main(["train", *argv, "--out", str(root / name)]) == 0
        runs[name] = root / name
    return runs
