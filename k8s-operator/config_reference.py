"""The operator settings' table in docs/configuration.md, rendered from their declarations.

The table sits between two marker comments in the doc, so the prose around it
stays hand-written while the table can never drift from ``config.SETTINGS``:
``scripts/settings_doc.py --write`` rewrites it, and a unit test
(tests/unit/test_settings_doc.py) fails when the doc differs from what this
module renders.
"""

from __future__ import annotations

import shlex

from chalkline.operator.config import SETTINGS, Setting

#: The command that brings the doc up to date; the marker and the test's failure name it.
REGENERATE = ".venv/bin/python scripts/settings_doc.py --write"
BEGIN = f"<!-- BEGIN operator-settings (generated from k8s-operator/config.py: {REGENERATE}) -->"
END = "<!-- END operator-settings -->"

_HEADER = (
    "| YAML key | environment (with an example) | flag | default | meaning |",
    "|----------|-------------------------------|------|---------|---------|",
)


def settings_reference_markdown() -> str:
    """The Markdown table of every operator setting, one row each, in declaration order."""
    return "\n".join([*_HEADER, *(_row(setting) for setting in SETTINGS)]) + "\n"


def with_current_reference(doc: str) -> str:
    """``doc`` with the text between the markers replaced by the current table."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the doc lacks the markers, in this order:\n{BEGIN}\n{END}")
    head = doc[: start + len(BEGIN)]
    return f"{head}\n{settings_reference_markdown()}{doc[end:]}"


def _row(setting: Setting) -> str:
    flag = setting.flag
    flags = ", ".join(f"`{name}`" for name in (flag.name, flag.short) if name) if flag else ""
    cells = (
        f"`{setting.key}`",
        f"`{setting.env}={shlex.quote(setting.example)}`",
        flags,
        setting.default_markdown(),
        _meaning(setting),
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _meaning(setting: Setting) -> str:
    """The help, and the values the loader allows, so the doc says them too."""
    text = setting.help
    if setting.choices:
        text += f"; one of {', '.join(f'`{choice}`' for choice in setting.choices)}"
    if setting.bounds is not None:
        text += f"; {setting.bounds.rule()}"
    return text
