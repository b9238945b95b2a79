"""The RenderJob operator on the kubernetes backend, end to end.

The real operator (backend ``kubernetes``, storage ``gs://BUCKET/work``)
creates batch/v1 Jobs on the API server emulator; the fake node
(tests/support/kube_node.py) plays the Job controller and the kubelet and runs
each pod's command, the real ``chalkline worker`` / ``chalkline stitch`` of this
interpreter, as a local process with the pod's env; workers and operator keep
every file in fake-gcs-server. What the node saw (Jobs, pods made, processes
running) and what the API server holds are how a test counts Jobs and sees
them go; the node's fault injection stands in for the memory killer and for a
pod that hangs.

The script carries test instrumentation, as in test_operator.py (the same
script, tests/support/scenes.py): each scene logs the process it starts in,
and ``Held`` waits for a gate file that these tests never open, so a render
is certainly in flight when a test acts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalkline.core.probe import probe_clip
from chalkline.executors.kubernetes_jobs import LABEL_GENERATION, LABEL_ROLE, job_name
from chalkline.operator.config import OperatorConfig
from chalkline.storage import Storage, open_storage
from tests.support.harness import (
    ApiServer,
    Cluster,
    Operator,
    alive,
    job_from,
    reasons_posted,
    renderjob,
    succeeded,
    task_state,
    wait_until,
)
from tests.support.kube_node import JOB_NAME, FakeNode, JsonApi, jobs_path, pods_path
from tests.support.scenes import FRAMES, Scenes
from tests.support.stored import decoded_frames, download, frames_in, staged

pytestmark = pytest.mark.render

Obj = dict[str, Any]

#: Frames of the video of scenes Opening and Proof.
OPENING_AND_PROOF = FRAMES["Opening"] + FRAMES["Proof"]

#: A script whose second scene raises: its worker exits with code 1, a user's error.
FAILING = """\
from manim import Circle, Create, Scene


class Fine(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.2)


class Broken(Scene):
    def construct(self):
        raise RuntimeError("boom in Broken")
"""


@pytest.fixture
def operator_config(
    kubeconfig: Path,
    gcs_bucket: str,
    fake_node: FakeNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> OperatorConfig:
    """The operator on the kubernetes backend: Jobs whose pods run this interpreter's chalkline."""
    monkeypatch.setenv("CHALKLINE_CACHE_DIR", str(tmp_path / "pod-cache"))  # for the pods
    return OperatorConfig(
        backend="kubernetes",
        storage=f"gs://{gcs_bucket}/work",
        cache_dir=tmp_path / "manim-cache",
        poll_interval=0.3,
        kubernetes_image="example/chalkline:test",
        kubernetes_command=(sys.executable, "-m", "chalkline"),
    )


@pytest.fixture
def bucket(operator_config: OperatorConfig) -> Storage:
    """The operator's storage, as this process reads it."""
    return open_storage(operator_config.storage)


@pytest.fixture
def api(api_server: ApiServer) -> Iterator[JsonApi]:
    """The API server in plain JSON, to see Jobs and pods as the cluster has them."""
    client = JsonApi(api_server.url)
    yield client
    client.close()


def jobs(api: JsonApi, role: str | None = None) -> list[Obj]:
    """The Jobs in namespace default (of ``role``: render or stitch)."""
    found = api.items(jobs_path("default"))
    return [j for j in found if role in (None, j["metadata"]["labels"].get(LABEL_ROLE))]


def job_named(api: JsonApi, name: str) -> Obj:
    return api.call("GET", jobs_path("default", name))


def seen(node: FakeNode, role: str) -> list[str]:
    """The names of the Jobs of ``role`` the node has seen, in the order they appeared."""
    return [name for name in node.jobs_seen if name.startswith(f"chalkline-{role}-")]


def pods(api: JsonApi) -> list[Obj]:
    return api.items(pods_path("default"))


def pods_of(api: JsonApi, job: Obj) -> list[Obj]:
    return [
        p for p in pods(api) if p["metadata"]["labels"].get(JOB_NAME) == job["metadata"]["name"]
    ]


def limits(job: Obj) -> Obj:
    """The resource limits of the Job's container."""
    found: Obj = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    return found


def names(objects: list[Obj]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def complete(job: Obj) -> bool:
    """Whether the Job controller has written the Job's Complete condition."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)


def first_job(role: str, created: Obj, generation: int = 1) -> str:
    """The name of a RenderJob's first render or stitch Job: a hash of the reconciler's key."""
    uid = created["metadata"]["uid"]
    key = f"{uid}-g{generation}-a0-l0" if role == "render" else f"{uid}-g{generation}-stitch-0"
    return job_name(role, key)


def test_a_renderjob_becomes_a_gs_video_rendered_and_stitched_in_jobs(
    cluster: Cluster,
    operator: Operator,
    fake_node: FakeNode,
    api: JsonApi,
    bucket: Storage,
    gcs_bucket: str,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    created = cluster.create(job_from(scenes, "intro", "Opening", "Proof"))

    job = cluster.wait_for_condition("intro", "True")

    video = job["status"]["videoUri"]
    assert video == f"gs://{gcs_bucket}/work/videos/default/intro.mp4"
    local = download(bucket, video, tmp_path)
    assert decoded_frames(local) == probe_clip(local).frames == OPENING_AND_PROOF
    [render] = jobs(api, "render")
    [stitch] = jobs(api, "stitch")
    assert render["metadata"]["name"] == first_job("render", created)
    assert render["spec"]["completions"] == 2 and complete(render) and complete(stitch)
    assert fake_node.pods_created == {render["metadata"]["name"]: 2, stitch["metadata"]["name"]: 1}
    # The scenes ran in the pods' processes, once each.
    assert (scenes.started("Opening"), scenes.started("Proof")) == (1, 1)
    assert reasons_posted(cluster, "intro", "Succeeded")[-1] == ("Normal", "Succeeded")


def test_an_operator_killed_right_after_creating_the_job_leaves_exactly_one(
    cluster: Cluster,
    operator: Operator,
    fake_node: FakeNode,
    api: JsonApi,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = cluster.create(job_from(scenes, "course", "Opening", "Proof"))
    wait_until(lambda: jobs(api, "render"), 30, "the render Job")

    operator.kill()
    operator.start()

    job = cluster.wait_for_condition("course", "True")
    render = first_job("render", created)
    assert seen(fake_node, "render") == [render]
    [found] = jobs(api, "render")
    assert found["metadata"]["name"] == render and complete(found)
    assert fake_node.pods_created[render] == 2, "each scene's pod was made once"
    assert (scenes.started("Opening"), scenes.started("Proof")) == (1, 1)
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == OPENING_AND_PROOF
    # Kopf's log records of the handler the kill orphaned hold its settings, and so
    # its thread pool: let them go, so that the pool's threads end with the test.
    caplog.clear()


def test_deleting_mid_render_deletes_the_job_its_pods_and_the_staging_prefix(
    cluster: Cluster,
    operator: Operator,
    fake_node: FakeNode,
    api: JsonApi,
    bucket: Storage,
    scenes: Scenes,
) -> None:
    fake_node.inject("hang")  # every pod runs until it is killed
    cluster.create(job_from(scenes, "talk", "Opening", "Proof"))
    wait_until(lambda: len(fake_node.running_pods) == 2, 30, "both pods to run")
    job = cluster.get("talk")
    assert job is not None and staged(bucket, job), "the script and the plan are staged"
    [render] = names(jobs(api, "render"))

    deleted_at = time.monotonic()
    cluster.delete("talk")
    cluster.wait_gone("talk", timeout=10)
    seconds = time.monotonic() - deleted_at

    assert seconds < 10, f"the RenderJob took {seconds:.1f} s to go"
    wait_until(lambda: not jobs(api), 5, "the Job to be deleted")
    wait_until(lambda: not pods(api), 5, "its pods to be deleted")
    wait_until(lambda: not fake_node.running_pods, 10, "the pods' processes to end")
    assert staged(bucket, job) == [], "intermediates are removed"
    assert fake_node.jobs_seen == [render]


def test_a_scene_that_raises_fails_the_renderjob_naming_the_scene_and_the_error(
    cluster: Cluster, operator: Operator, fake_node: FakeNode, api: JsonApi
) -> None:
    cluster.create(renderjob("broken", source={"inline": FAILING}))

    job = cluster.wait_for_condition("broken", "False")

    condition = succeeded(job)
    assert condition["reason"] == "RenderFailed"
    assert "Broken" in condition["message"]
    assert "boom in Broken" in condition["message"]
    assert "scene Broken: scene" not in condition["message"]  # named once
    assert job["status"]["phase"] == "Failed"
    assert task_state(job, "Broken") == "Failed"
    [render] = fake_node.jobs_seen
    assert fake_node.pods_created[render] == 2, "a script's error is not retried"
    assert ("Warning", "RenderFailed") in reasons_posted(cluster, "broken", "RenderFailed")


def test_a_failed_render_keeps_its_job_and_pod_for_kubectl_logs(
    cluster: Cluster, operator: Operator, fake_node: FakeNode, api: JsonApi
) -> None:
    cluster.create(renderjob("broken", source={"inline": FAILING}, scenes=["Broken"]))

    cluster.wait_for_condition("broken", "False")

    assert names(jobs(api, "render")) == seen(fake_node, "render"), "the failed Job stays"
    [render] = jobs(api, "render")
    [pod] = pods_of(api, render)
    assert "boom in Broken" in fake_node.logs(pod["metadata"]["name"])


def test_a_stitch_killed_for_memory_succeeds_one_tier_up(
    cluster: Cluster,
    operator: Operator,
    fake_node: FakeNode,
    api: JsonApi,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    created = cluster.create(job_from(scenes, "reel", "Opening", "Proof"))
    # The first stitch's pod is killed as by the memory killer; the escalated stitch is a
    # new Job, which the node runs as it would. (A fault's attempts count per Job.)
    first = first_job("stitch", created)
    fake_node.inject("oom", job=first, labels={LABEL_ROLE: "stitch"})

    job = cluster.wait_for_condition("reel", "True")

    assert job["status"]["stitch"]["tier"] == "medium"
    assert seen(fake_node, "stitch")[0] == first
    small, medium = (job_named(api, name) for name in seen(fake_node, "stitch"))
    assert not complete(small) and complete(medium)
    [killed] = pods_of(api, small)
    assert killed["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == (
        "OOMKilled"
    )
    assert limits(medium) == {"cpu": "2", "memory": "4Gi"}, "the medium tier's resources"
    assert limits(small) == {"cpu": "1", "memory": "2Gi"}
    assert ("Warning", "StitchEscalated") in reasons_posted(cluster, "reel", "Succeeded")
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == OPENING_AND_PROOF


def test_a_spec_change_mid_render_deletes_the_old_generations_job(
    cluster: Cluster,
    operator: Operator,
    fake_node: FakeNode,
    api: JsonApi,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    created = cluster.create(job_from(scenes, "lesson", "Opening", "Held"))
    cluster.wait_for(
        "lesson", lambda job: task_state(job, "Opening") == "Succeeded", "Opening rendered"
    )
    held = wait_until(lambda: scenes.pids("Held"), 30, "Held to start rendering")
    old = first_job("render", created)
    assert names(jobs(api, "render")) == [old]

    changed = cluster.patch_spec("lesson", {"scenes": ["Opening", "Closing"]})
    assert changed["metadata"]["generation"] == 2

    job = cluster.wait_for_condition("lesson", "True")
    assert old not in names(jobs(api)), "the old generation's Job is deleted"
    wait_until(lambda: not any(alive(pid) for pid in held), 10, "its pod's process to end")
    [new] = jobs(api, "render")
    assert new["metadata"]["labels"][LABEL_GENERATION] == "2" and complete(new)
    assert new["spec"]["completions"] == 1, "only the changed scene is rendered"
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == (
        FRAMES["Opening"] + FRAMES["Closing"]
    )
    assert scenes.started("Opening") == 1, "the unchanged scene's clip is re-used"
    assert (scenes.started("Closing"), scenes.finished("Held")) == (1, 0)
