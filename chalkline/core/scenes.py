"""Find the Scene classes of a Manim script by reading it, never by running it.

The operator must not execute user code, and the CLI should list scenes in
milliseconds, so discovery works on the syntax tree: a class is a scene when
one of its bases is a Manim scene class or another scene of the same file,
followed transitively (mixins and helper classes are not scenes). The result
matches what ``manim render -a`` would pick: every top-level Scene subclass of
the file, in file order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chalkline.core.errors import InvalidScript, SceneNotFound, SourceNotFound

#: Manim's own scene base classes (manim community, 0.17 to 0.22), plus the
#: widely used manim-slides bases that render like scenes.
MANIM_SCENE_BASES: frozenset[str] = frozenset(
    {
        "Scene",
        "MovingCameraScene",
        "ThreeDScene",
        "SpecialThreeDScene",
        "ZoomedScene",
        "VectorScene",
        "LinearTransformationScene",
        "Slide",
        "ThreeDSlide",
    }
)


@dataclass(frozen=True)
class SceneInfo:
    """A scene class found in a script, with the line it starts on."""

    name: str
    line: int


def read_script(path: Path) -> str:
    """Read a script's text, turning OS errors into messages a user can act on."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceNotFound(
            f"script not found: {path}", hint="check the path; it is relative to where you run"
        ) from None
    except IsADirectoryError:
        raise SourceNotFound(f"script path is a folder, not a file: {path}") from None
    except (PermissionError, UnicodeDecodeError) as err:
        raise SourceNotFound(f"cannot read script {path}: {err}") from None


def discover_scenes(source: str, filename: str = "<script>") -> list[SceneInfo]:
    """Return the scene classes defined in ``source``, in file order.

    Raises :class:`InvalidScript` when the source does not parse (naming the
    file, line and column) or defines no scene at all.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as err:
        where = f"{filename}:{err.lineno}" + (f":{err.offset}" if err.offset else "")
        raise InvalidScript(
            f"{where}: syntax error: {err.msg}",
            hint=(err.text or "").rstrip() or None,
        ) from None
    aliases = _imported_scene_aliases(tree)
    classes = list(_top_level_classes(tree.body))
    bases_of = {cls.name: [_base_name(b) for b in cls.bases] for cls in classes}
    scenes = _scene_names(bases_of, MANIM_SCENE_BASES | aliases)
    found: dict[str, SceneInfo] = {}
    for cls in classes:
        if cls.name in scenes and cls.name not in found:
            found[cls.name] = SceneInfo(cls.name, cls.lineno)
    if not found:
        raise InvalidScript(
            f"{filename}: no Scene classes found",
            hint="define a class that inherits from manim's Scene (or MovingCameraScene, ...)",
        )
    return list(found.values())


def discover_scenes_in_file(path: Path) -> list[SceneInfo]:
    """:func:`discover_scenes` for a file on disk."""
    return discover_scenes(read_script(path), filename=str(path))


def select_scenes(found: Sequence[SceneInfo], requested: Iterable[str]) -> list[str]:
    """The scene names to render: ``requested`` in the order given, or all found.

    Unknown names fail with the list of scenes that do exist.
    """
    wanted = list(requested)
    if not wanted:
        return [s.name for s in found]
    known = {s.name for s in found}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SceneNotFound(
            f"scene {', '.join(map(repr, unknown))} not found",
            hint="scenes in this script: " + ", ".join(s.name for s in found),
        )
    duplicates = sorted({name for name in wanted if wanted.count(name) > 1})
    if duplicates:
        raise SceneNotFound(
            f"scene {', '.join(map(repr, duplicates))} requested more than once",
            hint="name each scene once",
        )
    return wanted


def _top_level_classes(body: Iterable[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Classes at module level, including inside top-level if/try blocks."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If):
            yield from _top_level_classes(node.body)
            yield from _top_level_classes(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level_classes(block)
            for handler in node.handlers:
                yield from _top_level_classes(handler.body)


def _imported_scene_aliases(tree: ast.Module) -> set[str]:
    """Local names bound to Manim scene bases, e.g. ``from manim import Scene as S``."""
    return {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname and alias.name in MANIM_SCENE_BASES
    }


def _base_name(node: ast.expr) -> str:
    """The name a base class expression ends in: ``m.Scene`` -> ``Scene``."""
    if isinstance(node, ast.Subscript):  # Generic[T]-style bases
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _scene_names(bases_of: dict[str, list[str]], roots: frozenset[str] | set[str]) -> set[str]:
    """Names whose base chain reaches a root, resolved to a fixed point.

    Order of definition does not matter, and a class that shadows a Manim base
    name (``class Scene(Base)``) is judged by its own bases.
    """
    scenes: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, bases in bases_of.items():
            if name in scenes:
                continue
            if any((base in roots and base not in bases_of) or base in scenes for base in bases):
                scenes.add(name)
                changed = True
    return scenes
