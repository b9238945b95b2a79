"""The RenderJob operator, end to end: a user's stories against the real operator.

Each test talks to an API server (kmock's emulator, made strict, on loopback)
the way a user does, with the real ``kubernetes`` client or kubectl; the real
Kopf operator renders real (tiny) Manim scenes in its local executor.

The script carries test instrumentation, as a user's script may
(tests/support/scenes.py): each scene logs when it starts and ends, and in
which process, which is how the tests see which scenes were rendered, how
often, and where. The ``Held`` scene waits for a gate file before it plays,
so a test can act while a render is certainly in flight.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import kubernetes
import pytest
import yaml

from chalkline.core.layout import JobRef, Layout
from chalkline.storage.files import path_of, uri_of
from tests.support.clips import make_test_clip
from tests.support.harness import (
    Cluster,
    Operator,
    alive,
    events_through,
    job_from,
    renderjob,
    succeeded,
    task_state,
    wait_until,
)
from tests.support.scenes import FRAMES, Scenes

pytestmark = pytest.mark.render

BROKEN = """\
from manim import Scene

class Broken(Scene):
    def construct(self)
        self.wait(0.2)
"""


def frames_in(uri: str) -> int:
    """Decode the video at ``uri`` and count its frames."""
    with av.open(str(path_of(uri))) as container:
        return sum(1 for _ in container.decode(video=0))


def staging_folder(storage: Path, job: Mapping[str, Any]) -> Path:
    meta = job["metadata"]
    ref = JobRef(meta["namespace"], meta["name"], meta["uid"], meta["generation"])
    return path_of(Layout(uri_of(storage)).staging(ref))


def reasons(events: list[dict[str, Any]], type_: str | None = None) -> list[str]:
    return [e["reason"] for e in events if type_ in (None, e["type"])]


# --- create to Succeeded -------------------------------------------------------------


def test_a_renderjob_becomes_a_video_whose_uri_is_in_status(
    cluster: Cluster, operator: Operator, scenes: Scenes
) -> None:
    cluster.create(job_from(scenes, "intro", "Opening", "Proof"))

    job = cluster.wait_for_condition("intro", "True")

    status = job["status"]
    assert succeeded(job)["reason"] == "Stitched"
    assert succeeded(job)["observedGeneration"] == status["observedGeneration"] == 1
    assert (status["phase"], status["progress"], status["stitch"]["tier"]) == (
        "Succeeded",
        "2/2",
        "small",
    )
    assert frames_in(status["videoUri"]) == FRAMES["Opening"] + FRAMES["Proof"]
    assert (scenes.started("Opening"), scenes.started("Proof")) == (1, 1)
    events = events_through(cluster, "intro", "Succeeded")
    assert reasons(events) == [
        "Rendering",
        "SceneRendered",
        "SceneRendered",
        "Stitching",
        "Succeeded",
    ]
    assert reasons(events, "Warning") == []


def test_an_operator_for_all_namespaces_serves_renderjobs_in_any_namespace(
    api_client: kubernetes.client.ApiClient, operator_for_all_namespaces: Operator, scenes: Scenes
) -> None:
    team = Cluster(api_client, namespace="team-a")
    team.create(job_from(scenes, "intro", "Closing"))

    job = team.wait_for_condition("intro", "True")

    assert job["status"]["videoUri"].endswith("/videos/team-a/intro.mp4")
    assert frames_in(job["status"]["videoUri"]) == FRAMES["Closing"]


# --- failures --------------------------------------------------------------------------


def test_a_script_with_a_syntax_error_fails_naming_the_line_and_can_still_be_deleted(
    cluster: Cluster, operator: Operator, storage: Path
) -> None:
    cluster.create(renderjob("broken", source={"inline": BROKEN}))

    job = cluster.wait_for_condition("broken", "False")

    condition = succeeded(job)
    assert condition["reason"] == "InvalidScript"
    assert "spec.source.inline:4" in condition["message"]
    assert "syntax error" in condition["message"]
    assert job["status"]["phase"] == "Failed"
    assert reasons(events_through(cluster, "broken", "InvalidScript"), "Warning") == [
        "InvalidScript"
    ]
    assert job["status"]["tasks"] == []
    assert not staging_folder(storage, job).exists(), "nothing is staged or rendered"

    cluster.delete("broken")
    cluster.wait_gone("broken")


def test_a_missing_config_map_fails_as_source_not_found(
    cluster: Cluster, operator: Operator
) -> None:
    cluster.create(
        renderjob("orphan", source={"configMapKeyRef": {"name": "nowhere", "key": "talk.py"}})
    )

    job = cluster.wait_for_condition("orphan", "False")

    assert succeeded(job)["reason"] == "SourceNotFound"
    assert "ConfigMap default/nowhere not found" in succeeded(job)["message"]
    assert reasons(events_through(cluster, "orphan", "SourceNotFound"), "Warning") == [
        "SourceNotFound"
    ]


# --- sources and modes -----------------------------------------------------------------


def test_the_script_can_come_from_a_config_map_in_the_same_namespace(
    cluster: Cluster, operator: Operator, scenes: Scenes
) -> None:
    cluster.create_config_map("scripts", {"talk.py": scenes.script})
    cluster.create(
        renderjob(
            "from-config-map",
            source={"configMapKeyRef": {"name": "scripts", "key": "talk.py"}},
            scenes=["Closing"],
        )
    )

    job = cluster.wait_for_condition("from-config-map", "True")

    assert frames_in(job["status"]["videoUri"]) == FRAMES["Closing"]
    assert scenes.started("Closing") == 1


def test_ready_clips_are_stitched_on_a_tier_chosen_for_them(
    cluster: Cluster, operator: Operator, tmp_path: Path
) -> None:
    clips = [
        make_test_clip(
            tmp_path / f"clip-{i}.mp4", width=160, height=90, fps=15, seconds=1.0, audio=True
        )
        for i in range(3)
    ]
    cluster.create(renderjob("reel", clips=[uri_of(clip) for clip in clips]))

    job = cluster.wait_for_condition("reel", "True")

    assert job["status"]["stitch"]["tier"] == "small"
    assert job["status"]["stitch"]["mode"] == "copy"
    assert frames_in(job["status"]["videoUri"]) == 3 * 15


# --- changes while rendering -------------------------------------------------------------


def test_a_spec_change_mid_render_cancels_the_old_work_and_renders_only_what_changed(
    cluster: Cluster, operator: Operator, scenes: Scenes
) -> None:
    cluster.create(job_from(scenes, "lesson", "Opening", "Held"))
    cluster.wait_for(
        "lesson", lambda job: task_state(job, "Opening") == "Succeeded", "Opening rendered"
    )
    held = wait_until(lambda: scenes.pids("Held"), 30, "Held to start rendering")

    changed = cluster.patch_spec("lesson", {"scenes": ["Opening", "Closing"]})
    assert changed["metadata"]["generation"] == 2

    job = cluster.wait_for_condition("lesson", "True")

    assert job["status"]["observedGeneration"] == succeeded(job)["observedGeneration"] == 2
    assert frames_in(job["status"]["videoUri"]) == FRAMES["Opening"] + FRAMES["Closing"]
    assert scenes.started("Opening") == 1, "the unchanged scene's clip is re-used"
    assert scenes.started("Closing") == 1
    assert scenes.finished("Held") == 0, "the old generation's render was cancelled"
    wait_until(lambda: not any(alive(pid) for pid in held), 10, "the cancelled render to end")
    events = events_through(cluster, "lesson", "Succeeded")
    rendering = [e["message"] for e in events if e["reason"] == "Rendering"]
    assert rendering[-1].endswith("1 unchanged scene(s) re-used")


def test_deleting_mid_render_stops_the_work_and_cleans_up_but_keeps_a_published_video(
    cluster: Cluster, operator: Operator, scenes: Scenes, storage: Path
) -> None:
    cluster.create(job_from(scenes, "talk", "Opening"))
    published = path_of(cluster.wait_for_condition("talk", "True")["status"]["videoUri"])
    job = cluster.patch_spec("talk", {"scenes": ["Opening", "Held"]})
    held = wait_until(lambda: scenes.pids("Held"), 30, "Held to start rendering")
    staging = staging_folder(storage, job)
    assert staging.exists()

    cluster.delete("talk")

    cluster.wait_gone("talk", timeout=10)
    wait_until(lambda: not any(alive(pid) for pid in held), 10, "the render to stop")
    assert not staging.exists(), "intermediates are removed"
    assert frames_in(uri_of(published)) == FRAMES["Opening"], "the published video stays"
    assert scenes.finished("Held") == 0


# --- restarts --------------------------------------------------------------------------


def test_a_killed_operator_is_resumed_by_the_next_without_rendering_finished_scenes_again(
    cluster: Cluster, operator: Operator, scenes: Scenes
) -> None:
    cluster.create(job_from(scenes, "course", "Opening", "Held"))
    cluster.wait_for(
        "course", lambda job: task_state(job, "Opening") == "Succeeded", "Opening rendered"
    )
    in_flight = wait_until(lambda: scenes.pids("Held"), 30, "Held to start rendering")

    operator.kill()
    wait_until(lambda: not any(alive(pid) for pid in in_flight), 10, "its render to die with it")
    operator.start()
    scenes.open_gate()

    job = cluster.wait_for_condition("course", "True")

    assert frames_in(job["status"]["videoUri"]) == FRAMES["Opening"] + FRAMES["Held"]
    assert scenes.started("Opening") == 1, "a scene finished before the kill is not redone"
    # Held was in flight when the operator died, so it is rendered again: allowed,
    # and here necessary, since its first render never finished.
    assert scenes.started("Held") == 2
    assert scenes.finished("Held") == 1
    assert "ExecutionLost" in reasons(events_through(cluster, "course", "Succeeded"), "Warning")


# --- kubectl ---------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_waits_for_success_and_prints_the_printer_columns(
    kubeconfig: Path, operator: Operator, scenes: Scenes, tmp_path: Path
) -> None:
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(yaml.safe_dump(job_from(scenes, "demo", "Closing")))

    def kubectl(*args: str) -> str:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    # The emulator serves no OpenAPI document for kubectl to validate against.
    assert kubectl("apply", "--validate=false", "-f", str(manifest)).strip() == (
        "renderjob.chalkline.dev/demo created"
    )
    assert kubectl("wait", "--for=condition=Succeeded", "rj/demo", "--timeout=60s").strip() == (
        "renderjob.chalkline.dev/demo condition met"
    )
    header, row = kubectl("get", "renderjobs").splitlines()
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "TIER", "VIDEO", "AGE"]
    assert row.split()[:4] == ["demo", "Succeeded", "1/1", "small"]
    assert row.split()[4].endswith("/videos/default/demo.mp4")
