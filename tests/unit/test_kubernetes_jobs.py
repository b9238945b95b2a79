"""The Jobs the kubernetes executor creates, as data: what a cluster admin audits."""

from __future__ import annotations

from typing import Any

import pytest

from chalkline.core.layout import JobRef
from chalkline.core.records import KEY_ENV, PLAN_ENV
from chalkline.executors.kubernetes_jobs import (
    JobIntent,
    KubernetesJobsConfig,
    PodSize,
    job_name,
    parse_indexes,
    prepare_job,
    server_version,
)

OWNER = JobRef(namespace="team", name="intro", uid="u-1", generation=2)
CONFIG = KubernetesJobsConfig(image="registry.example/chalkline/worker:1")
RENDER = JobIntent(
    "render", "u-1-g2-a0-l0", "gs://b/plan.json", OWNER, completions=3, parallelism=10
)
NEW, OLD = (1, 33), (1, 31)


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def test_a_render_is_one_indexed_job_of_one_pod_per_task() -> None:
    job = prepare_job(CONFIG, RENDER, NEW)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    container = pod(job)["containers"][0]
    assert container["command"] == ["chalkline"] and container["args"] == ["worker"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {PLAN_ENV: "gs://b/plan.json", KEY_ENV: "u-1-g2-a0-l0", "HOME": "/tmp"}
    assert pod(job)["restartPolicy"] == "Never"


def test_the_name_is_a_function_of_the_launch_key() -> None:
    job = prepare_job(CONFIG, RENDER, NEW)
    assert job["metadata"]["name"] == job_name("render", "u-1-g2-a0-l0")
    assert job_name("render", "u-1-g2-a0-l0") == job_name("render", "u-1-g2-a0-l0")
    assert job_name("render", "u-1-g2-a1-l0") != job_name("render", "u-1-g2-a0-l0")
    assert len(job["metadata"]["name"]) <= 63


def test_jobs_name_their_renderjob_and_are_owned_by_it_in_its_namespace() -> None:
    job = prepare_job(CONFIG, RENDER, NEW)
    meta = job["metadata"]
    assert meta["namespace"] == "team"
    assert meta["labels"]["chalkline.dev/renderjob"] == "intro"
    assert meta["labels"]["chalkline.dev/renderjob-uid"] == "u-1"
    assert meta["labels"]["chalkline.dev/generation"] == "2"
    assert meta["annotations"] == {
        "chalkline.dev/key": "u-1-g2-a0-l0",
        "chalkline.dev/plan": "gs://b/plan.json",
    }
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("RenderJob", "intro", "u-1")
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]


def test_jobs_in_a_namespace_of_their_own_carry_labels_but_no_owner() -> None:
    shared = KubernetesJobsConfig(image="i", namespace="chalkline-jobs")
    meta = prepare_job(shared, RENDER, NEW)["metadata"]
    assert meta["namespace"] == "chalkline-jobs"
    assert "ownerReferences" not in meta  # owners must be in the same namespace
    assert meta["labels"]["chalkline.dev/renderjob-uid"] == "u-1"


def test_a_renderjob_that_lives_only_in_memory_owns_nothing() -> None:
    standalone = KubernetesJobsConfig(image="i", owner_references=False)
    meta = prepare_job(standalone, RENDER, NEW)["metadata"]
    assert "ownerReferences" not in meta  # the garbage collector would delete the Job
    assert meta["labels"]["chalkline.dev/renderjob"] == "intro"


def test_retries_are_per_index_on_new_servers_and_counted_in_all_on_old_ones() -> None:
    config = KubernetesJobsConfig(image="i", retries_per_index=2)
    new = prepare_job(config, RENDER, NEW)["spec"]
    old = prepare_job(config, RENDER, OLD)["spec"]
    assert new["backoffLimitPerIndex"] == 2 and "backoffLimit" not in new
    assert old["backoffLimit"] == 6 and "backoffLimitPerIndex" not in old


def test_a_failure_of_the_users_script_is_not_retried_and_disruptions_do_not_count() -> None:
    rules = prepare_job(CONFIG, RENDER, NEW)["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailIndex"
    assert rules[0]["onExitCodes"] == {
        "containerName": "chalkline",
        "operator": "In",
        "values": [1],
    }
    assert rules[1] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}


def test_pods_are_locked_down() -> None:
    spec = pod(prepare_job(CONFIG, RENDER, NEW))
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spec["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_a_stitch_is_one_pod_sized_by_its_tier_with_the_tiers_deadline() -> None:
    intent = JobIntent("stitch", "u-1-g2-stitch-0", "gs://b/order.json", OWNER,
                       size=PodSize("1", "2Gi"), deadline_seconds=600)  # fmt: skip
    config = KubernetesJobsConfig(image="worker", stitch_image="stitcher", retries_per_index=3)
    job = prepare_job(config, intent, NEW)
    assert job["spec"]["completions"] == 1 and job["spec"]["activeDeadlineSeconds"] == 600
    assert job["spec"]["backoffLimitPerIndex"] == 0  # escalation, one tier up, is the retry
    container = pod(job)["containers"][0]
    assert (container["image"], container["args"]) == ("stitcher", ["stitch"])
    limits = {"cpu": "1", "memory": "2Gi"}
    assert container["resources"] == {"requests": limits, "limits": limits}


def test_scheduling_and_storage_settings_reach_the_pod() -> None:
    config = KubernetesJobsConfig(
        image="i",
        node_selector={"pool": "render"},
        tolerations=({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},),
        priority_class="batch-low",
        image_pull_secrets=("regcred",),
        labels={"kueue.x-k8s.io/queue-name": "renders"},
        service_account="renderer",
        storage_claim="chalkline-storage",
        storage_path="/var/lib/chalkline",
    )
    job = prepare_job(config, RENDER, NEW)
    spec = pod(job)
    assert spec["nodeSelector"] == {"pool": "render"}
    assert spec["tolerations"][0]["key"] == "gpu"
    assert spec["priorityClassName"] == "batch-low"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["serviceAccountName"] == "renderer"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "renders"
    claim = {"name": "storage", "persistentVolumeClaim": {"claimName": "chalkline-storage"}}
    assert claim in spec["volumes"]
    mount = {"name": "storage", "mountPath": "/var/lib/chalkline"}
    assert mount in spec["containers"][0]["volumeMounts"]


@pytest.mark.parametrize(
    ("text", "indexes"),
    [(None, set()), ("", set()), ("3", {3}), ("0-2,4", {0, 1, 2, 4}), ("1,3-4", {1, 3, 4})],
)
def test_index_lists_read_as_the_job_controller_writes_them(
    text: str | None, indexes: set[int]
) -> None:
    assert parse_indexes(text) == indexes


@pytest.mark.parametrize(
    ("git_version", "version"),
    [("v1.33.2", (1, 33)), ("v1.31.0-gke.1", (1, 31)), ("v1.34+", (1, 34)), ("junk", (1, 0))],
)
def test_the_server_version_decides_per_index_retries(
    git_version: str, version: tuple[int, int]
) -> None:
    assert server_version(git_version) == version
