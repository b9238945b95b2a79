"""The kubernetes executor with the real kubernetes client, against the emulator and a fake node.

The fake node (tests/support/kube_node.py) plays the Job controller and the
kubelet: it makes each Job's pods and runs their container command as a
local process with the pod's env and JOB_COMPLETION_INDEX. The command here
is a stand-in for ``chalkline worker`` / ``stitch`` (tests/support/stand_ins.py),
so these tests exercise the executor's contract with the cluster, not Manim.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import kubernetes
import pytest

from chalkline.core.layout import JobRef
from chalkline.executors.base import StitchWork
from chalkline.executors.kubernetes import KubernetesExecutor
from chalkline.executors.kubernetes_jobs import KubernetesJobsConfig
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.storage import FileStorage
from tests.support.cloudrun_fake import FaultKind
from tests.support.executors import render_work, scratch_of, wait_for
from tests.support.harness import ApiServer, wait_until
from tests.support.kube_node import FakeNode, JsonApi
from tests.support.stand_ins import STITCHER, WORKER

OWNER = JobRef(namespace="default", name="intro", uid="uid-1", generation=1)
FINISHED = {"Succeeded", "Failed", "Cancelled"}


@pytest.fixture
def storage(tmp_path: Any) -> FileStorage:
    return FileStorage(tmp_path / "store")


@pytest.fixture
def api(kube_api: ApiServer) -> Iterator[JsonApi]:
    client = JsonApi(kube_api.url)
    yield client
    client.close()


def executor_for(kube_api: ApiServer, storage: FileStorage, **changes: Any) -> KubernetesExecutor:
    jobs = KubernetesJobsConfig(
        image="example/chalkline:test", command=(sys.executable, "-c", WORKER)
    )
    api_client = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=kube_api.url))
    return KubernetesExecutor(storage, replace(jobs, **changes), load_tier_table(), api_client)


@pytest.fixture
def executor(kube_api: ApiServer, storage: FileStorage) -> Iterator[KubernetesExecutor]:
    made = executor_for(kube_api, storage)
    yield made
    made.close()


def render(executor: KubernetesExecutor, storage: FileStorage, key: str, *scenes: str) -> str:
    return executor.launch_render(
        key,
        render_work(storage, *scenes),
        2,
        scratch_uri=scratch_of(storage),
        owner=OWNER,
    )


def jobs(api: JsonApi) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.call("GET", "/apis/batch/v1/namespaces/default/jobs")["items"]
    return items


def test_a_render_is_one_indexed_job_whose_pods_report_their_manifests(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage, api: JsonApi
) -> None:
    handle = render(executor, storage, "uid-1-g1-a0-l0", "Intro", "Proof", "Outro")

    report = wait_for(executor, handle, FINISHED)

    assert report.phase == "Succeeded", report
    assert [t.phase for t in report.tasks] == ["Succeeded"] * 3
    assert [t.manifest.scene for t in report.tasks if t.manifest] == ["Intro", "Proof", "Outro"]
    clip = storage.join("job", "clips", "Proof-low-d.mp4")
    assert storage.read_bytes(clip) == b"clip of Proof"
    (job,) = jobs(api)
    assert handle == f"default/{job['metadata']['name']}"
    assert job["metadata"]["labels"]["chalkline.dev/renderjob-uid"] == "uid-1"
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert fake_node.pods_created == {job["metadata"]["name"]: 3}


def test_a_launch_after_a_restart_adopts_the_job_it_made(
    kube_api: ApiServer, executor: KubernetesExecutor, fake_node: FakeNode,
    storage: FileStorage, api: JsonApi,
) -> None:  # fmt: skip
    first = render(executor, storage, "uid-1-g1-a0-l0", "Intro")
    restarted = executor_for(kube_api, storage)
    try:
        assert render(restarted, storage, "uid-1-g1-a0-l0", "Intro") == first
        assert wait_for(restarted, first, FINISHED).phase == "Succeeded"
        assert render(restarted, storage, "uid-1-g1-a1-l0", "Intro") != first
    finally:
        restarted.close()
    assert len(jobs(api)) == 2  # the adopted one, and the next attempt's


def test_a_failing_script_fails_its_scene_at_once_with_the_pods_last_words(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage
) -> None:
    fake_node.inject("fail", index=1, exit_code=1)
    handle = render(executor, storage, "uid-1-g1-a0-l0", "Intro", "Broken")

    report = wait_for(executor, handle, FINISHED)

    assert report.phase == "Failed" and report.reason == "RenderFailed"
    assert [t.phase for t in report.tasks] == ["Succeeded", "Failed"]
    assert report.tasks[1].message.startswith("scene Broken: ")
    assert "exit code 1" in report.tasks[1].message
    (name,) = fake_node.jobs_seen
    assert fake_node.pods_created[name] == 2  # exit code 1: the script's fault, not retried


def test_a_crashed_pod_is_retried_for_its_index_only(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage
) -> None:
    fake_node.inject("oom", index=0, attempts=1)
    handle = render(executor, storage, "uid-1-g1-a0-l0", "Intro", "Proof")

    report = wait_for(executor, handle, FINISHED)

    assert report.phase == "Succeeded", report
    (name,) = fake_node.jobs_seen
    assert fake_node.pods_created[name] == 3  # index 0 twice, index 1 once


def test_cancel_deletes_the_job_and_its_pods(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage, api: JsonApi
) -> None:
    fake_node.inject("hang")
    handle = render(executor, storage, "uid-1-g1-a0-l0", "Slow")
    wait_until(lambda: fake_node.running_pods, timeout=10, what="the pod's process to start")
    assert executor.poll(handle).tasks[0].phase == "Running"

    executor.cancel(handle)

    assert wait_for(executor, handle, FINISHED).phase == "Cancelled"
    assert jobs(api) == []
    assert api.call("GET", "/api/v1/namespaces/default/pods")["items"] == []
    wait_until(lambda: not fake_node.running_pods or None, timeout=10, what="the process to go")
    executor.cancel(handle)  # harmless when it is gone


def test_an_unknown_handle_is_unknown(executor: KubernetesExecutor) -> None:
    assert executor.poll("default/chalkline-render-gone").phase == "Unknown"


def stitch(executor: KubernetesExecutor, storage: FileStorage, tier: str = "small") -> str:
    clips = tuple(storage.join("job", "clips", f"{n}.mp4") for n in ("a", "b"))
    for clip in clips:
        storage.write_bytes(clip, clip.encode())
    work = StitchWork(clips, storage.join("video.mp4"), storage.join("job", "scratch"), tier)
    return executor.launch_stitch("uid-1-g1-stitch-0", work, owner=OWNER)


def test_a_stitch_is_one_pod_with_its_tiers_resources_and_deadline(
    kube_api: ApiServer, fake_node: FakeNode, storage: FileStorage, api: JsonApi
) -> None:
    stitcher = executor_for(kube_api, storage, command=(sys.executable, "-c", STITCHER))
    try:
        handle = stitch(stitcher, storage)
        report = wait_for(stitcher, handle, FINISHED)
    finally:
        stitcher.close()

    assert report.phase == "Succeeded", report
    assert report.details == {"mode": "copy", "sizeBytes": "42"}
    assert storage.read_bytes(storage.join("video.mp4")).startswith(b"file://")
    (job,) = jobs(api)
    assert job["spec"]["activeDeadlineSeconds"] == 600
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}


@pytest.mark.parametrize(
    ("fault", "reason"), [("oom", "StitchOutOfMemory"), ("fail", "StitchFailed")]
)
def test_a_stitch_that_dies_says_why_so_it_can_escalate(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage,
    fault: FaultKind, reason: str,
) -> None:  # fmt: skip
    fake_node.inject(fault, exit_code=3)

    report = wait_for(executor, stitch(executor, storage), FINISHED)

    assert (report.phase, report.reason) == ("Failed", reason)
    assert report.message


def test_a_stitch_past_its_tiers_deadline_timed_out(
    kube_api: ApiServer, fake_node: FakeNode, storage: FileStorage
) -> None:
    fake_node.inject("hang")
    stitcher = executor_for(kube_api, storage)
    stitcher.tier_table = replace(
        stitcher.tier_table,
        tiers=tuple(replace(t, timeout_s=1) for t in stitcher.tier_table.tiers),
    )
    try:
        report = wait_for(stitcher, stitch(stitcher, storage), FINISHED, seconds=20)
    finally:
        stitcher.close()
    assert (report.phase, report.reason) == ("Failed", "StitchTimedOut")


def test_a_finished_job_stays_for_its_logs_until_it_is_released(
    executor: KubernetesExecutor, fake_node: FakeNode, storage: FileStorage, api: JsonApi
) -> None:
    fake_node.inject("fail", exit_code=1)
    handle = render(executor, storage, "uid-1-g1-a0-l0", "Broken")
    assert wait_for(executor, handle, FINISHED).phase == "Failed"

    executor.cancel(handle)  # the reconciler stops a failed render: nothing left to stop
    assert len(jobs(api)) == 1
    assert len(api.call("GET", "/api/v1/namespaces/default/pods")["items"]) == 1

    executor.release(handle)  # its RenderJob is deleted: the Job and its pod go
    assert jobs(api) == []
    executor.release(handle)  # harmless when it is gone
