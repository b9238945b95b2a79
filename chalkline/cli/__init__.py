"""The ``chalkline`` command line: one module per subcommand, one group here.

Every subcommand raises :class:`~chalkline.errors.ChalklineError` for problems a
user can fix; :func:`main` prints them as one ``error:`` message and exits 1,
so no user ever sees a Python traceback for their own mistake.
"""

from __future__ import annotations

import sys

import click

from chalkline import __version__
from chalkline.cli.operator_cmd import operator
from chalkline.cli.render_cmd import render
from chalkline.cli.run_cmd import run
from chalkline.cli.scenes_cmd import scenes
from chalkline.cli.stitch_cmd import stitch
from chalkline.cli.tier_cmd import tier
from chalkline.cli.worker_cmd import worker
from chalkline.errors import ChalklineError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="chalkline")
def cli() -> None:
    """Render Manim scripts in parallel and stitch clips into one video.

    \b
    Typical use:
      chalkline scenes examples/shapes.py
      chalkline render examples/shapes.py -o out/shapes.mp4
      chalkline stitch a.mp4 b.mp4 -o reel.mp4
      chalkline tier --clips 8 --size-mb 120
    """


for command in (scenes, render, worker, stitch, tier, run, operator):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, map user errors to exit codes."""
    try:
        cli.main(args=argv, prog_name="chalkline", standalone_mode=False)
    except ChalklineError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
