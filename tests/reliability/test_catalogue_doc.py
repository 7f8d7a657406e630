"""docs/RELIABILITY.md carries the catalogue's count and list, generated from the tables: they cannot drift."""
from pathlib import Path

from tests.reliability.catalogue import all_cases, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "RELIABILITY.md"


def test_reliability_doc_lists_the_catalogue():
    assert markdown() in DOC.read_text(), \
        "regenerate the list in docs/RELIABILITY.md: python -m tests.reliability.catalogue"


def test_the_catalogue_reaches_the_goal_of_issue_18():
    cases = all_cases()
    assert len(cases) >= 100 and len({c[0] for c in cases}) == len(cases)
