"""``chalkline scenes``: list a script's scenes without running it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chalkline.core.scenes import discover_scenes_in_file


@click.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, line}.")
def scenes(script: Path, as_json: bool) -> None:
    """List the Scene classes of SCRIPT, in file order.

    The script is read, never imported or run: scenes are found in its syntax
    tree, following base classes defined in the same file, so this is safe on
    untrusted scripts and takes milliseconds. These are the scenes `chalkline
    render SCRIPT` renders when no scene is named.
    """
    found = discover_scenes_in_file(script)
    if as_json:
        click.echo(json.dumps([{"name": s.name, "line": s.line} for s in found], indent=2))
        return
    for scene in found:
        click.echo(f"{scene.name}\t(line {scene.line})")
