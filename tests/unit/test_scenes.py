"""Scene discovery reads a script's syntax tree; it never runs the script."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chalkline.core.errors import InvalidScript, SceneNotFound, SourceNotFound
from chalkline.core.scenes import discover_scenes, discover_scenes_in_file, select_scenes


def names(source: str) -> list[str]:
    return [s.name for s in discover_scenes(textwrap.dedent(source), "demo.py")]


def test_scenes_come_in_file_order_with_their_lines() -> None:
    found = discover_scenes(
        "from manim import *\n\nclass B(Scene):\n    pass\n\nclass A(Scene):\n    pass\n"
    )
    assert [(s.name, s.line) for s in found] == [("B", 3), ("A", 6)]


@pytest.mark.parametrize(
    "base",
    [
        "Scene",
        "MovingCameraScene",
        "ThreeDScene",
        "ZoomedScene",
        "VectorScene",
        "LinearTransformationScene",
        "SpecialThreeDScene",
    ],
)
def test_every_manim_scene_base_counts(base: str) -> None:
    assert names(f"class Demo({base}):\n    pass\n") == ["Demo"]


def test_scenes_inheriting_from_scenes_in_the_same_file() -> None:
    source = """
        class Base(Scene):
            pass
        class Child(Base):
            pass
        class GrandChild(Child):
            pass
    """
    assert names(source) == ["Base", "Child", "GrandChild"]


def test_order_of_definition_does_not_hide_a_scene() -> None:
    # A base defined after its subclass only fails at import time, but the
    # relation is still visible in the tree.
    source = """
        class Late(Early):
            pass
        class Early(Scene):
            pass
    """
    assert names(source) == ["Late", "Early"]


def test_mixins_and_helpers_are_not_scenes() -> None:
    source = """
        class Helper:
            pass
        class TitleMixin(Helper):
            pass
        class Demo(TitleMixin, Scene):
            pass
        class Config(dict):
            pass
    """
    assert names(source) == ["Demo"]


def test_qualified_and_aliased_bases() -> None:
    source = """
        import manim as mn
        from manim import ThreeDScene as Solid
        class Dotted(mn.Scene):
            pass
        class Aliased(Solid):
            pass
    """
    assert names(source) == ["Dotted", "Aliased"]


def test_nested_classes_are_not_scenes_but_guarded_ones_are() -> None:
    source = """
        def factory():
            class Inner(Scene):
                pass
            return Inner
        class Outer:
            class Nested(Scene):
                pass
        if True:
            class Guarded(Scene):
                pass
    """
    assert names(source) == ["Guarded"]


def test_the_script_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "s.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\nclass A(Scene):\n    pass\n")
    assert [s.name for s in discover_scenes_in_file(script)] == ["A"]
    assert not marker.exists()


def test_a_syntax_error_names_file_and_line() -> None:
    with pytest.raises(InvalidScript, match=r"demo\.py:3:\d+: syntax error"):
        discover_scenes("from manim import *\n\nclass A(Scene)\n    pass\n", "demo.py")


def test_a_script_without_scenes_is_rejected() -> None:
    with pytest.raises(InvalidScript, match=r"demo\.py: no Scene classes found"):
        discover_scenes("class Helper:\n    pass\n", "demo.py")


def test_a_missing_script_says_so(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="script not found"):
        discover_scenes_in_file(tmp_path / "nope.py")


def test_select_defaults_to_all_scenes_and_keeps_the_requested_order() -> None:
    found = discover_scenes("class A(Scene): pass\nclass B(Scene): pass\nclass C(Scene): pass\n")
    assert select_scenes(found, []) == ["A", "B", "C"]
    assert select_scenes(found, ["C", "A"]) == ["C", "A"]


def test_an_unknown_scene_lists_the_ones_that_exist() -> None:
    found = discover_scenes("class A(Scene): pass\nclass B(Scene): pass\n")
    with pytest.raises(SceneNotFound) as err:
        select_scenes(found, ["A", "Nope"])
    assert "'Nope' not found" in str(err.value)
    assert "scenes in this script: A, B" in str(err.value)


def test_a_scene_named_twice_is_rejected() -> None:
    found = discover_scenes("class A(Scene): pass\n")
    with pytest.raises(SceneNotFound, match="more than once"):
        select_scenes(found, ["A", "A"])
