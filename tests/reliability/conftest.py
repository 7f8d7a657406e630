import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Nothing downloads in these tests: a missing dataset must fail at once with its message."""
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
