"""Options shared by several subcommands, declared once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click
from click.core import ParameterSource

from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES
from chalkline.core.records import PLAN_ENV

quality_option = click.option(
    "-q",
    "--quality",
    type=click.Choice(list(QUALITIES), case_sensitive=False),
    default="low",
    show_default=True,
    help="low 480p15, medium 720p30, high 1080p60, 4k 2160p60.",
)


def refuse_options_beside_plan(
    ctx: click.Context,
    plan: str,
    local_options: Mapping[str, str],
    hint: str,
    also_given: Sequence[str] = (),
) -> None:
    """Fail when a plan and options of the local mode were both given.

    ``local_options`` maps parameter names to the flags users typed; the error
    says whether the plan came from ``--plan`` or from the environment.
    """
    given = list(also_given) + given_options(ctx, local_options)
    if not given:
        return
    source = ctx.get_parameter_source("plan")
    origin = f"{PLAN_ENV}={plan}" if source is ParameterSource.ENVIRONMENT else "--plan"
    raise InvalidSpec(f"{origin} cannot be combined with {', '.join(given)}", hint=hint)


def given_options(ctx: click.Context, options: Mapping[str, str]) -> list[str]:
    """The flags of ``options`` (parameter name -> flag) that the user actually set."""
    return [
        flag
        for name, flag in options.items()
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    ]
