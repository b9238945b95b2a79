"""batch/v1 Job manifests for the ``kubernetes`` executor: pure functions, tested as data.

A render launch is one Indexed Job: ``completions`` = tasks, each pod runs
``chalkline worker --plan URI`` and takes task ``JOB_COMPLETION_INDEX`` of
the plan. A stitch is a one-pod Job whose requests and limits are its tier's,
so a tier is just resources here, and whose ``activeDeadlineSeconds`` is the
tier's timeout.

What every Job carries, and why:

- a name that is a function of the launch key (RenderJob uid, generation,
  attempt), so a create after a crash meets 409 and adopts the Job;
- labels naming the RenderJob (name, uid, generation) and owner references
  to it when the Job runs in the RenderJob's namespace (the garbage collector
  then removes Jobs of a deleted RenderJob even if the operator is gone);
- ``backoffLimitPerIndex`` (GA in Kubernetes 1.33; a plain ``backoffLimit``
  on older servers) and a ``podFailurePolicy`` that fails an index at once
  when the user's script fails (exit code 1: retrying cannot help) and does
  not count disruptions (a drained node);
- ``ttlSecondsAfterFinished``, so finished Jobs do not pile up;
- a locked-down pod: no service-account token, non-root, read-only root
  filesystem (``/tmp`` is an emptyDir), no privilege escalation, no
  capabilities, seccomp RuntimeDefault; ``terminationMessagePolicy:
  FallbackToLogsOnError``, so a failed pod's status carries the end of the
  worker's error output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalkline.core.layout import JobRef
from chalkline.core.records import KEY_ENV, PLAN_ENV
from chalkline.executors.render_sizes import DEFAULT_RENDER_SIZES, RenderSize

#: The exit code of ``chalkline`` for an error a user can fix (the script raised):
#: a retry would fail the same way.
USER_ERROR_EXIT_CODE = 1
CONTAINER = "chalkline"
MANAGED_BY = "chalkline"
LABEL_RENDERJOB = "chalkline.dev/renderjob"
LABEL_UID = "chalkline.dev/renderjob-uid"
LABEL_GENERATION = "chalkline.dev/generation"
LABEL_ROLE = "chalkline.dev/role"
ANNOTATION_KEY = "chalkline.dev/key"
ANNOTATION_PLAN = "chalkline.dev/plan"
RENDERJOB_API_VERSION = "chalkline.dev/v1alpha1"
#: The uid the images run as (docker/*.Dockerfile).
RUN_AS_USER = 10001
#: The first Kubernetes minor version with backoffLimitPerIndex GA.
PER_INDEX_BACKOFF_SINCE = (1, 33)


@dataclass(frozen=True)
class PodSize(RenderSize):
    """A container's requests and limits (equal: Guaranteed QoS, so memory is a promise)."""

    def resources(self) -> dict[str, dict[str, str]]:
        limits = {"cpu": self.cpu, "memory": self.memory}
        return {"requests": dict(limits), "limits": limits}


def pod_sizes(sizes: Mapping[str, RenderSize]) -> dict[str, PodSize]:
    return {quality: PodSize(size.cpu, size.memory) for quality, size in sizes.items()}


DEFAULT_POD_SIZES = pod_sizes(DEFAULT_RENDER_SIZES)


@dataclass(frozen=True)
class KubernetesJobsConfig:
    """The shape of the Jobs the executor creates; every field is an operator setting."""

    image: str
    #: None: the Jobs run in the RenderJob's own namespace (with owner references).
    namespace: str | None = None
    #: The stitch Jobs' image (e.g. the stitcher image without Manim); None: ``image``.
    stitch_image: str | None = None
    command: tuple[str, ...] = ("chalkline",)
    render_sizes: Mapping[str, PodSize] = field(default_factory=lambda: dict(DEFAULT_POD_SIZES))
    #: Retries of one failed index (a crash, an eviction), not of a script error.
    retries_per_index: int = 1
    ttl_seconds_after_finished: int = 3600
    #: A render pod's deadline; None: none.
    task_timeout_seconds: int | None = 3600
    service_account: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    priority_class: str | None = None
    image_pull_secrets: Sequence[str] = ()
    #: Extra labels on every Job and pod (e.g. ``kueue.x-k8s.io/queue-name``).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: A ReadWriteMany claim holding a file:// storage root, mounted at ``storage_path``.
    storage_claim: str | None = None
    storage_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Give Jobs an owner reference to their RenderJob (in its namespace). Off for
    #: ``chalkline run`` and laptop runs, whose RenderJob exists only in memory:
    #: the garbage collector deletes a Job whose owner does not exist.
    owner_references: bool = True


@dataclass(frozen=True)
class JobIntent:
    """What one launch asks for: the Job's role, its key and plan, and whose it is."""

    role: str  # "render" or "stitch"
    key: str
    plan_uri: str
    owner: JobRef | None
    completions: int = 1
    parallelism: int = 1
    size: PodSize = field(default_factory=lambda: DEFAULT_POD_SIZES["low"])
    deadline_seconds: int | None = None


def job_name(role: str, key: str) -> str:
    """A DNS-1123 name, a function of the launch key: the same launch, the same Job."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"chalkline-{role}-{digest}"


def job_namespace(config: KubernetesJobsConfig, owner: JobRef | None) -> str:
    if config.namespace:
        return config.namespace
    if owner is None:
        raise ValueError("a Job without an owner needs a configured namespace")
    return owner.namespace


def prepare_job(
    config: KubernetesJobsConfig, intent: JobIntent, server: tuple[int, int]
) -> dict[str, Any]:
    """The Job manifest for ``intent`` on a server of version ``server`` (major, minor)."""
    namespace = job_namespace(config, intent.owner)
    labels = _labels(config, intent)
    metadata: dict[str, Any] = {
        "name": job_name(intent.role, intent.key),
        "namespace": namespace,
        "labels": labels,
        "annotations": {ANNOTATION_KEY: intent.key, ANNOTATION_PLAN: intent.plan_uri},
    }
    owned = config.owner_references and intent.owner is not None
    if owned and intent.owner is not None and intent.owner.namespace == namespace:
        metadata["ownerReferences"] = [_owner_reference(intent.owner)]
    spec: dict[str, Any] = {
        "completions": intent.completions,
        "parallelism": max(1, min(intent.parallelism, intent.completions)),
        "completionMode": "Indexed",
        "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
        "podFailurePolicy": _pod_failure_policy(),
        "template": _pod_template(config, intent, labels),
    }
    retries = config.retries_per_index if intent.role == "render" else 0
    if server >= PER_INDEX_BACKOFF_SINCE:
        spec["backoffLimitPerIndex"] = retries
    else:
        spec["backoffLimit"] = retries * intent.completions
    if intent.deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = intent.deadline_seconds
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def _labels(config: KubernetesJobsConfig, intent: JobIntent) -> dict[str, str]:
    labels = dict(config.labels)
    labels.update({"app.kubernetes.io/managed-by": MANAGED_BY, LABEL_ROLE: intent.role})
    if intent.owner is not None:
        labels.update(
            {
                LABEL_RENDERJOB: intent.owner.name,
                LABEL_UID: intent.owner.uid,
                LABEL_GENERATION: str(intent.owner.generation),
            }
        )
    return labels


def _owner_reference(owner: JobRef) -> dict[str, Any]:
    return {
        "apiVersion": RENDERJOB_API_VERSION,
        "kind": "RenderJob",
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        # The operator's finalizer already orders the delete; nothing should wait on it.
        "blockOwnerDeletion": False,
    }


def _pod_failure_policy() -> dict[str, Any]:
    return {
        "rules": [
            {
                "action": "FailIndex",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": [USER_ERROR_EXIT_CODE],
                },
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }


def _pod_template(
    config: KubernetesJobsConfig, intent: JobIntent, labels: Mapping[str, str]
) -> dict[str, Any]:
    image = config.image if intent.role == "render" else (config.stitch_image or config.image)
    # HOME: Manim, fontconfig and Pango write caches there, and the root is read-only.
    env = {**config.env, PLAN_ENV: intent.plan_uri, KEY_ENV: intent.key, "HOME": "/tmp"}
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if config.storage_claim and config.storage_path:
        mounts.append({"name": "storage", "mountPath": config.storage_path})
        volumes.append(
            {"name": "storage", "persistentVolumeClaim": {"claimName": config.storage_claim}}
        )
    container = {
        "name": CONTAINER,
        "image": image,
        "command": list(config.command),
        "args": ["worker" if intent.role == "render" else "stitch"],
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "resources": intent.size.resources(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if intent.role == "render" and config.task_timeout_seconds is not None:
        pod["activeDeadlineSeconds"] = config.task_timeout_seconds
    if config.service_account:
        pod["serviceAccountName"] = config.service_account
    if config.node_selector:
        pod["nodeSelector"] = dict(config.node_selector)
    if config.tolerations:
        pod["tolerations"] = [dict(t) for t in config.tolerations]
    if config.priority_class:
        pod["priorityClassName"] = config.priority_class
    if config.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in config.image_pull_secrets]
    return {"metadata": {"labels": dict(labels)}, "spec": pod}


def parse_indexes(text: str | None) -> set[int]:
    """``"0-2,4"`` (a Job's completedIndexes / failedIndexes) -> ``{0, 1, 2, 4}``."""
    found: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return found


def server_version(git_version: str) -> tuple[int, int]:
    """``"v1.33.2-gke.100"`` -> ``(1, 33)``; an unreadable version counts as old."""
    numbers = git_version.lstrip("v").split(".")
    try:
        return int(numbers[0]), int("".join(ch for ch in numbers[1] if ch.isdigit()))
    except (IndexError, ValueError):
        return (1, 0)
