"""docs/configuration.md's operator settings table is what the declarations render."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalkline.operator.config import SETTINGS
from chalkline.operator.config_reference import (
    BEGIN,
    END,
    REGENERATE,
    settings_reference_markdown,
    with_current_reference,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_doc_shows_the_declared_settings() -> None:
    text = DOC.read_text(encoding="utf-8")

    assert with_current_reference(text) == text, (
        f"docs/configuration.md's operator settings table differs from the declarations "
        f"in k8s-operator/config.py; run: {REGENERATE}"
    )


def test_the_table_has_a_row_per_setting_naming_its_key_and_variable() -> None:
    rows = settings_reference_markdown().splitlines()[2:]

    assert len(rows) == len(SETTINGS)
    for row, setting in zip(rows, SETTINGS, strict=True):
        assert row.startswith(f"| `{setting.key}` | `{setting.env}=")


def test_only_the_text_between_the_markers_is_replaced() -> None:
    doc = f"prose before\n{BEGIN}\nan old table\n{END}\nprose after\n"

    current = with_current_reference(doc)

    assert current == f"prose before\n{BEGIN}\n{settings_reference_markdown()}{END}\nprose after\n"
    assert with_current_reference(current) == current


def test_a_doc_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks the markers"):
        with_current_reference("just prose\n")
