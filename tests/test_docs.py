"""Docs stay true to the code."""
from pathlib import Path

from ganforge.cli import build_parser
from ganforge.config import FIELDS, config_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_config_doc_is_generated_from_the_code():
    assert (ROOT / "docs" / "CONFIG.md").read_text() == config_markdown(), \
        "regenerate: python -m ganforge.config > docs/CONFIG.md"


def test_train_help_lists_every_config_key():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    flags = {opt for action in train._actions for opt in action.option_strings}
    for name in FIELDS:
        assert "--" + name.replace("_", "-") in flags


def test_readme_quickstart_commands_are_the_ci_ones():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install torch==2.13.0 -e . && ganforge train" in readme
    assert "python -m pytest -q" in readme and "pytest -q" in ci


def test_architecture_worked_example_runs(tmp_path, monkeypatch, capsys):
    """The CycleGAN-shaped example of docs/ARCHITECTURE.md, run as written (20 steps)."""
    import re

    from ganforge.data import DATASETS
    from ganforge.recipes import RECIPES

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    code = re.findall(r"```python\n(.*?)```", doc, flags=re.S)[-1]
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(code, "docs/ARCHITECTURE.md", "exec"), {"__name__": "architecture_example"})
    finally:
        RECIPES.unregister("tiny-cyclegan")
        DATASETS.unregister("digits-halves")
    assert "torch.Size([4, 1, 8, 8])" in capsys.readouterr().out
    run = tmp_path / "runs" / "tiny-cyclegan"
    assert (run / "samples.png").is_file()
    import json

    meta = json.loads(sorted((run / "checkpoints").glob("step-*.json"))[-1].read_text())
    assert set(meta["optimizers"]) == {"generators", "discriminators"}
    assert meta["optimizers"]["generators"]["param_groups"][0]["lr"] < 2e-4  # decayed
