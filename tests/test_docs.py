"""The generated reference in docs/ matches the registries."""

from pathlib import Path

from nncompile.reference import markdown

ROOT = Path(__file__).resolve().parents[1]


def test_reference_is_current():
    assert (ROOT / "docs" / "reference.md").read_text() == markdown() + "\n", (
        "regenerate with: nncompile docs > docs/reference.md"
    )
