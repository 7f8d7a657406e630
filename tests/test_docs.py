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
