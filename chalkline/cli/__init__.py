"""The ``chalkline`` command line: one module per subcommand, one group here.

Every subcommand raises :class:`~chalkline.core.errors.ChalklineError` for problems a
user can fix; :func:`main` prints them as one ``error:`` message and exits 1,
so no user ever sees a Python traceback for their own mistake.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import click

from chalkline import __version__
from chalkline.core.errors import ChalklineError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand is defined, and its one-line help for ``chalkline --help``."""

    module: str
    summary: str


#: Subcommand name -> where it lives (the command object has the same name).
#: Imported only when used: Kopf and the Kubernetes client alone take 0.7 s to
#: import, every render worker process imports the CLI's main module, and the
#: stitcher image leaves Manim, Kopf and the Kubernetes client out, so listing
#: the commands must not import them.
COMMANDS = {
    "scenes": Subcommand("chalkline.cli.scenes_cmd", "List a script's scenes, without running it."),
    "render": Subcommand("chalkline.cli.render_cmd", "Render a script's scenes into one video."),
    "worker": Subcommand("chalkline.cli.worker_cmd", "Render one scene into a clip + manifest."),
    "stitch": Subcommand("chalkline.cli.stitch_cmd", "Join clips, in order, into one video."),
    "tier": Subcommand(
        "chalkline.cli.tier_cmd", "The stitch tier (CPU, memory, timeout) clips need."
    ),
    "run": Subcommand("chalkline.cli.run_cmd", "Reconcile a RenderJob manifest here, no cluster."),
    "operator": Subcommand("chalkline.cli.operator_cmd", "Run the RenderJob operator (Kopf)."),
}
#: Modules a slim installation may lack, and which image or extra has them.
OPTIONAL_MODULES = {
    "manim": "the worker image",
    "kopf": "the operator image",
    "kubernetes": "the operator image",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        try:
            module = importlib.import_module(entry.module)
        except ModuleNotFoundError as err:
            raise missing_module(f"`chalkline {cmd_name}`", err) from None
        command = getattr(module, cmd_name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMANDS`, so ``--help`` imports none of them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.summary) for name, entry in COMMANDS.items()])


def missing_module(what: str, err: ModuleNotFoundError) -> ChalklineError:
    """A slim image lacks what ``what`` needs: say what, and where it is."""
    name = (err.name or "").split(".")[0]
    where = OPTIONAL_MODULES.get(name)
    if where is None:
        raise err  # not an optional dependency: a broken installation, keep the traceback
    return ChalklineError(
        f"{what} needs the Python package {name!r}, which this installation does not include",
        hint=f"use {where}, or install the full package: pip install chalkline",
    )


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
    except ModuleNotFoundError as err:  # raised when the work starts, e.g. a render
        click.echo(f"error: {missing_module('this command', err)}", err=True)
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
