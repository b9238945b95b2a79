"""`chalkline render`: real Manim renders of tiny scenes, stitched with real FFmpeg."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from chalkline.core.errors import RenderFailed, SceneNotFound
from chalkline.drivers.local_render import RenderHooks, RenderRequest, render_video
from chalkline.worker.pool import TaskEvent


def decoded_frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def leftovers(temp: Path) -> list[str]:
    """Our temp folders still present (multiprocessing's own pymp-* lives until exit)."""
    return [p.name for p in temp.iterdir() if not p.name.startswith("pymp-")]


def partial_movies(cache: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in cache.rglob("partial_movie_files/**/*.mp4")}


def test_renders_every_scene_in_parallel_into_one_video(tiny_script: Path, tmp_path: Path) -> None:
    events: list[TaskEvent] = []
    output = tmp_path / "video.mp4"
    result = render_video(
        RenderRequest(script=tiny_script, output=output, workers=2),
        RenderHooks(on_task=events.append),
    )
    assert [m.scene for m in result.manifests] == ["Red", "Green", "Blue"]
    assert decoded_frames(output) == sum(m.frames for m in result.manifests)
    assert all(m.width == 854 and m.height == 480 and m.fps == 15 for m in result.manifests)
    assert result.stitch.recipe.mode == "copy"
    assert {e.scene for e in events if e.kind == "done"} == {"Red", "Green", "Blue"}
    # Nothing is left behind but the video: no clips, no temp folders.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "tiny.py", "tmp", "video.mp4"]
    assert leftovers(tmp_path / "tmp") == []


def test_named_scenes_render_in_the_order_given(tiny_script: Path, tmp_path: Path) -> None:
    result = render_video(
        RenderRequest(script=tiny_script, output=tmp_path / "v.mp4", scenes=["Blue", "Red"])
    )
    assert [m.scene for m in result.manifests] == ["Blue", "Red"]


def test_a_second_run_reuses_manims_partial_movies(
    tiny_script: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    request = RenderRequest(script=tiny_script, output=tmp_path / "v.mp4")
    render_video(request)
    first = partial_movies(isolated_cache)
    assert len(first) >= 3
    render_video(request)
    assert partial_movies(isolated_cache) == first


def test_a_scene_without_animations_is_skipped(
    write_script: Callable[..., Path], tmp_path: Path
) -> None:
    script = write_script(
        """
        from manim import *
        class Base(Scene):
            pass
        class Real(Base):
            def construct(self):
                self.play(Create(Square()), run_time=0.2)
        """
    )
    result = render_video(RenderRequest(script=script, output=tmp_path / "v.mp4"))
    assert [(m.scene, m.has_clip) for m in result.manifests] == [("Base", False), ("Real", True)]
    assert decoded_frames(tmp_path / "v.mp4") == result.manifests[1].frames


def test_a_failing_scene_is_named_and_cancels_the_others(
    write_script: Callable[..., Path], tmp_path: Path
) -> None:
    script = write_script(
        """
        from manim import *
        class Slow(Scene):
            def construct(self):
                self.wait(30)
        class Broken(Scene):
            def construct(self):
                self.play(Create(Square()), run_time=0.1)
                ratio = 1 / 0
        """
    )
    events: list[TaskEvent] = []
    output = tmp_path / "v.mp4"
    with pytest.raises(RenderFailed) as err:
        render_video(
            RenderRequest(script=script, output=output, workers=2),
            RenderHooks(on_task=events.append),
        )
    message = str(err.value)
    assert "scene 'Broken' failed: ZeroDivisionError: division by zero" in message
    assert "line 9, in construct" in message and "ratio = 1 / 0" in message
    assert ("Slow", "cancelled") in {(e.scene, e.kind) for e in events}
    assert not output.exists()
    assert leftovers(tmp_path / "tmp") == []


def test_unknown_scene_fails_before_any_render(tiny_script: Path, tmp_path: Path) -> None:
    with pytest.raises(SceneNotFound, match="scenes in this script: Red, Green, Blue"):
        render_video(RenderRequest(script=tiny_script, output=tmp_path / "v.mp4", scenes=["X"]))
    assert not (tmp_path / "cache").exists()


def test_a_script_that_raises_on_import_names_the_line(
    write_script: Callable[..., Path], tmp_path: Path
) -> None:
    script = write_script(
        """
        from manim import *
        import missing_module_for_test
        class A(Scene):
            def construct(self):
                self.wait(0.1)
        """
    )
    with pytest.raises(RenderFailed) as err:
        render_video(RenderRequest(script=script, output=tmp_path / "v.mp4"))
    assert "raised while loading" in str(err.value)
    assert "line 3" in str(err.value) and "missing_module_for_test" in str(err.value)
    assert leftovers(tmp_path / "tmp") == []
