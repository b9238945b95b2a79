"""The ``chalkline`` command line: one module per subcommand, one group here.

Every subcommand raises :class:`~chalkline.errors.ChalklineError` for problems a
user can fix; :func:`main` prints them as one ``error:`` message and exits 1,
so no user ever sees a Python traceback for their own mistake.
"""

from __future__ import annotations

import importlib
import sys

import click

from chalkline import __version__
from chalkline.errors import ChalklineError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


#: Subcommand name -> module defining it (the command object has the same name).
#: Imported only when used: Kopf and the Kubernetes client alone take 0.7 s to
#: import, and every render worker process imports the CLI's main module.
COMMANDS = {
    "scenes": "chalkline.cli.scenes_cmd",
    "render": "chalkline.cli.render_cmd",
    "worker": "chalkline.cli.worker_cmd",
    "stitch": "chalkline.cli.stitch_cmd",
    "tier": "chalkline.cli.tier_cmd",
    "run": "chalkline.cli.run_cmd",
    "operator": "chalkline.cli.operator_cmd",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
