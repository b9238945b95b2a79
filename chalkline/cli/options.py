"""Options shared by several subcommands, declared once."""

from __future__ import annotations

import click

from chalkline.quality import QUALITIES

quality_option = click.option(
    "-q",
    "--quality",
    type=click.Choice(list(QUALITIES), case_sensitive=False),
    default="low",
    show_default=True,
    help="low 480p15, medium 720p30, high 1080p60, 4k 2160p60.",
)
