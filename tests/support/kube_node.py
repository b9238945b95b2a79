"""A fake node for the API server emulator: the Job controller and the kubelet, in one thread.

The emulator (:mod:`tests.support.kube_emulator`) only stores Jobs and Pods.
In a cluster, the Job controller makes a Job's pods and writes its status,
and a kubelet runs the pods and writes theirs. ``FakeNode`` plays both, with
the real ``kubernetes`` client against the emulator, so the operator's
kubernetes backend is tested where it meets the cluster: the HTTP API. Each
pod's first container runs as a local process, as the Cloud Run fake runs
tasks: its ``command`` + ``args`` with this process's environment under the
container's ``env``, so a ``python`` or ``chalkline`` on PATH is found.

The Job controller (every Job of the node's namespaces, labelled or not)
    makes at most ``parallelism`` pods at once until each of ``completions``
    indexes succeeds or runs out of retries, named and labelled as
    kube-controller-manager does (generateName ``JOB-INDEX-``, the
    ``batch.kubernetes.io/*`` and legacy ``job-name`` / ``controller-uid``
    labels, the completion-index annotation, ``hostname`` ``JOB-INDEX``,
    the ``JOB_COMPLETION_INDEX`` env entry, an ownerReference to the Job);
    honours ``backoffLimitPerIndex`` (with ``failedIndexes`` and
    ``maxFailedIndexes``) or else ``backoffLimit``, ``podFailurePolicy``
    rules on exit codes (FailIndex, FailJob, Ignore, Count), ``suspend``,
    ``activeDeadlineSeconds`` and ``ttlSecondsAfterFinished``; and writes
    ``active``, ``ready``, ``succeeded``, ``failed``, ``completedIndexes``,
    ``startTime``, ``completionTime`` and the conditions of Kubernetes 1.33:
    ``SuccessCriteriaMet`` or ``FailureTarget`` first, then, once no process
    of the Job is left, ``Complete`` or ``Failed`` (reasons
    BackoffLimitExceeded, FailedIndexes, MaxFailedIndexesExceeded,
    DeadlineExceeded, PodFailurePolicy). A Job that fails has its running
    pods deleted.
The kubelet (every pod of those namespaces bound to no node or to this one)
    runs the container in a folder of its own, with ``HOSTNAME`` the pod's
    hostname (an Indexed Job's pod: ``JOB-INDEX``, as in a cluster; else the
    pod's name), env ``value`` (with ``$(VAR)`` expansion, also in
    ``command`` and ``args``) and ``fieldRef`` entries; writes phase
    Pending -> Running -> Succeeded / Failed with the container's state
    (``exitCode``, ``reason`` Completed / Error / OOMKilled / StartError,
    and with ``terminationMessagePolicy: FallbackToLogsOnError`` the last 80
    lines, at most 2048 bytes, of a failed container's output as its
    ``message``); kills a pod's processes (SIGTERM, then SIGKILL after
    ``grace``) when the pod is deleted or passes its own
    ``activeDeadlineSeconds`` (pod reason DeadlineExceeded).

Deleting a Job is the API server's business: with ``propagationPolicy:
Background`` the emulator's garbage collector deletes its pods and the
kubelet kills their processes; without one, the pods are orphaned and run
on, as in a cluster.

Faults stand in for what a test cannot provoke for real (:meth:`FakeNode.inject`):
a container that exits with a given code, is killed by the memory killer
(exit 137, OOMKilled), or hangs until it is killed.

Left out: retry back-off delays (a failed index is retried at once),
``restartPolicy: OnFailure`` (a failed pod is replaced, never restarted),
containers after the first, init containers, probes, ``onPodConditions``
rules (no disruptions happen here), env sources other than ``value`` and
``fieldRef`` (the pod waits with CreateContainerConfigError), the
``terminationMessagePath`` file, resource limits, graceful pod deletion
(a deleted pod is gone at once; its process gets ``grace`` seconds), the
pod-tracking finalizer, successPolicy, NonIndexed Jobs without
``completions``, and Job status ``terminating``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes

from tests.support.cloudrun_fake import FaultKind

Obj = dict[str, Any]

JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"

FINAL_PHASES = frozenset({"Succeeded", "Failed"})
DEFAULT_BACKOFF_LIMIT = 6
#: How much of a failed container's output the kubelet keeps as its message.
MESSAGE_LINES, MESSAGE_BYTES = 80, 2048
NODE_IP = "127.0.0.1"

log = logging.getLogger(__name__)


# --- the API, in plain JSON ----------------------------------------------------------


def jobs_path(namespace: str, name: str = "") -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}".rstrip("/")


def pods_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}".rstrip("/")


class JsonApi:
    """The API server through the real ``kubernetes`` client's ``ApiClient``, in plain JSON.

    The client's typed models reject fields they do not know, and Job fields
    are newer than many clients; the node (and a test) speak JSON, through
    the client's URL building, headers and connection pool.
    """

    def __init__(self, url: str) -> None:
        # Any: the client is only partly annotated.
        self.client: Any = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=url))

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, body: Any = None, **query: str) -> Obj:
        """One request. For PATCH, a list body is a JSON patch and a dict a merge patch."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            if method == "PATCH":
                headers["Content-Type"] = (
                    "application/json-patch+json"
                    if isinstance(body, list)
                    else "application/merge-patch+json"
                )
        serialized = self.client.param_serialize(
            method, path, query_params=list(query.items()), header_params=headers, body=body
        )
        response: Any = self.client.call_api(*serialized)
        response.read()
        if response.status >= 300:
            raise kubernetes.client.ApiException(http_resp=response)
        answer: Obj = json.loads(response.data or b"{}")
        return answer

    def items(self, path: str) -> list[Obj]:
        found: list[Obj] = self.call("GET", path)["items"]
        return found

    def write_status(self, path: str, status: Obj) -> Obj | None:
        """Replace the object's status; None if the object is gone."""
        with _gone_is_none():
            return self.call(
                "PATCH", f"{path}/status", [{"op": "add", "path": "/status", "value": status}]
            )
        return None

    def delete(self, path: str, policy: str = "Background") -> None:
        """Delete the object (and by default its dependents); nothing if it is gone already."""
        with _gone_is_none():
            self.call("DELETE", path, propagationPolicy=policy)


@contextlib.contextmanager
def _gone_is_none() -> Iterator[None]:
    """Swallow 404: a test or the garbage collector may delete anything at any moment."""
    try:
        yield
    except kubernetes.client.ApiException as err:
        if err.status != 404:
            raise


# --- faults --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A stand-in for the container of matching pods: see :meth:`FakeNode.inject`."""

    kind: FaultKind
    job: str = ""  # a prefix of the Job's name
    labels: Mapping[str, str] = field(default_factory=dict)
    index: int | None = None  # None: every index
    exit_code: int = 1
    attempts: int | None = None  # None: every attempt

    def matches(self, job: Obj, index: int, attempt: int) -> bool:
        meta = job["metadata"]
        labels = meta.get("labels") or {}
        return (
            meta["name"].startswith(self.job)
            and all(labels.get(key) == value for key, value in self.labels.items())
            and self.index in (None, index)
            and (self.attempts is None or attempt < self.attempts)
        )

    def command(self) -> list[str]:
        code = {
            "fail": "import sys; print('injected failure', file=sys.stderr); "
            f"sys.exit({self.exit_code})",
            # The memory killer sends SIGKILL; the container runtime reports 137, OOMKilled.
            "oom": "import os, signal; print('allocating', flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)",
            "hang": "import time; time.sleep(3600)",
        }[self.kind]
        return [sys.executable, "-c", code]


# --- the kubelet ---------------------------------------------------------------------


class Unsupported(Exception):
    """A container this node cannot run as asked (the pod then waits, as a kubelet's would)."""


@dataclass
class Container:
    """A pod's first container, running as a local process."""

    pod: Obj  # as it was when it started
    process: subprocess.Popen[bytes]
    log: Path
    started_at: str
    fault: Fault | None
    deadline: float | None  # monotonic: the pod's own activeDeadlineSeconds
    kill_at: float | None = None  # monotonic: SIGKILL if it still runs then
    deadline_exceeded: bool = False

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])


class Kubelet:
    """Runs pods as processes and writes their status, as a kubelet does."""

    def __init__(self, api: JsonApi, node: str, root: Path, grace: float) -> None:
        self.api, self.node, self.root, self.grace = api, node, root, grace
        self.containers: dict[str, Container] = {}  # by pod uid, while the process lives
        self.handled: set[str] = set()  # pod uids: a pod runs once
        self.faults: dict[str, Fault] = {}  # by pod uid, chosen by the Job controller
        self.logs: dict[str, Path] = {}  # by pod name

    def sync(self, pods: list[Obj]) -> list[Obj]:
        """Start new pods, stop deleted ones, report ended ones; return the pods as they now are."""
        current = {_uid(pod): pod for pod in pods}
        for uid, pod in current.items():
            if uid not in self.handled and self._mine(pod):
                self.handled.add(uid)
                current[uid] = self._start(pod)
        now = time.monotonic()
        for uid, container in list(self.containers.items()):
            found = current.get(uid)
            code = container.process.poll()
            if code is None:
                if container.deadline is not None and now >= container.deadline:
                    container.deadline_exceeded = True
                if found is None or _deleting(found) or container.deadline_exceeded:
                    self._stop(container, now)
                continue
            _signal(container.process, signal.SIGKILL)  # what the container left behind
            del self.containers[uid]
            if found is not None:
                current[uid] = self._write(found, self._ended(found, container, code))
        return list(current.values())

    def running(self, owner: str) -> bool:
        """Whether a process of a pod of ``owner`` (a Job's uid) still runs."""
        return any(_owner(c.pod) == owner for c in self.containers.values())

    def kill_all(self) -> None:
        """SIGTERM every process, SIGKILL those still there after the grace, reap them all."""
        for container in self.containers.values():
            _signal(container.process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for container in self.containers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                container.process.wait(max(0.0, deadline - time.monotonic()))
            _signal(container.process, signal.SIGKILL)
            container.process.wait()
        self.containers.clear()

    def _mine(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (
            _phase(pod) == "Pending"
            and not _deleting(pod)
            and spec.get("nodeName") in (None, "", self.node)
            and bool(spec.get("containers"))
        )

    def _start(self, pod: Obj) -> Obj:
        spec = pod["spec"]
        container = spec["containers"][0]
        try:
            env = _container_env(pod, container)
        except Unsupported as err:
            waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": str(err)}}
            return self._write(pod, _pod_status(pod, "Pending", waiting, None))
        fault = self.faults.pop(_uid(pod), None)
        argv = (
            fault.command()
            if fault
            else [
                _expand(arg, env)
                for arg in [*container.get("command", []), *container.get("args", [])]
            ]
        )
        name = pod["metadata"]["name"]
        workdir = self.root / name
        workdir.mkdir(parents=True)
        logfile = self.logs[name] = self.root / f"{name}.log"
        started_at = _now()
        try:
            if not argv:
                raise FileNotFoundError(
                    "no command: the fake node cannot run an image's entrypoint"
                )
            with logfile.open("wb") as out:
                process = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env={**os.environ, "HOSTNAME": spec.get("hostname") or name, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # so a kill takes the container's children too
                )
        except OSError as err:  # no such command: the runtime cannot start the container
            state = _terminated(128, "StartError", started_at, message=str(err))
            return self._write(pod, _pod_status(pod, "Failed", state, started_at))
        deadline = spec.get("activeDeadlineSeconds")
        self.containers[_uid(pod)] = Container(
            pod,
            process,
            logfile,
            started_at,
            fault,
            None if deadline is None else time.monotonic() + float(deadline),
        )
        running = {"running": {"startedAt": started_at}}
        return self._write(pod, _pod_status(pod, "Running", running, started_at, ready=True))

    def _stop(self, container: Container, now: float) -> None:
        if container.kill_at is None:
            _signal(container.process, signal.SIGTERM)
            container.kill_at = now + self.grace
        elif now >= container.kill_at:
            _signal(container.process, signal.SIGKILL)

    def _ended(self, pod: Obj, container: Container, code: int) -> Obj:
        exit_code = 128 - code if code < 0 else code  # killed by signal N: 128 + N
        oom = container.fault is not None and container.fault.kind == "oom"
        reason = "Completed" if exit_code == 0 else "Error"
        if oom and code == -signal.SIGKILL:
            reason = "OOMKilled"
        message = ""
        spec = pod["spec"]["containers"][0]
        if exit_code != 0 and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = _tail(container.log)
        state = _terminated(exit_code, reason, container.started_at, message=message)
        phase = "Succeeded" if exit_code == 0 else "Failed"
        status = _pod_status(pod, phase, state, container.started_at)
        if container.deadline_exceeded:
            status["phase"] = "Failed"
            status["reason"] = "DeadlineExceeded"
            status["message"] = "Pod was active on the node longer than the specified deadline"
        return status

    def _write(self, pod: Obj, status: Obj) -> Obj:
        meta = pod["metadata"]
        return self.api.write_status(pods_path(meta["namespace"], meta["name"]), status) or pod


def _pod_status(
    pod: Obj, phase: str, state: Obj, started_at: str | None, *, ready: bool = False
) -> Obj:
    """A pod's status as a kubelet writes it, for its first container in ``state``."""
    container = pod["spec"]["containers"][0]
    now = _now()
    conditions = [
        {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now}
        for kind, ok in (
            ("PodScheduled", True),
            ("Initialized", True),
            ("ContainersReady", ready),
            ("Ready", ready),
        )
    ]
    status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": NODE_IP,
        "podIP": NODE_IP,
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": ready,
                "started": ready,
                "restartCount": 0,
                "state": state,
                "lastState": {},
            }
        ],
    }
    if started_at is not None:
        status["startTime"] = started_at
    return status


def _terminated(exit_code: int, reason: str, started_at: str, *, message: str = "") -> Obj:
    state: Obj = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": started_at,
        "finishedAt": _now(),
    }
    if message:
        state["message"] = message
    return {"terminated": state}


def _container_env(pod: Obj, container: Obj) -> dict[str, str]:
    """The container's ``env`` as the kubelet resolves it (``value`` and ``fieldRef`` only)."""
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        source = entry.get("valueFrom")
        if source is None:
            env[entry["name"]] = _expand(str(entry.get("value", "")), env)
        elif "fieldRef" in source:
            env[entry["name"]] = _field(pod, source["fieldRef"]["fieldPath"])
        else:
            raise Unsupported(
                f"env {entry['name']}: the fake node resolves value and fieldRef only"
            )
    return env


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_KEYED_FIELD = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` is ``$``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _REFERENCE.sub(one, text)


def _field(pod: Obj, path: str) -> str:
    """What a ``fieldRef`` names in the pod."""
    if path in ("status.podIP", "status.hostIP"):
        return NODE_IP
    keyed = _KEYED_FIELD.fullmatch(path)
    if keyed:
        return str((pod["metadata"].get(keyed[1]) or {}).get(keyed[2], ""))
    value: Any = pod
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _tail(path: Path) -> str:
    """The last lines of a container's output, as much as the kubelet keeps of it."""
    lines = path.read_bytes().splitlines(keepends=True)[-MESSAGE_LINES:]
    return b"".join(lines)[-MESSAGE_BYTES:].decode(errors="replace")


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the container's whole process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


# --- the Job controller --------------------------------------------------------------


@dataclass
class JobState:
    """What the Job controller knows of one Job beyond its status."""

    name: str
    succeeded: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)
    retries: Counter[int] = field(default_factory=Counter)  # counted failures per index
    failed: int = 0  # failed pods, but those a policy ignores
    counted: set[str] = field(default_factory=set)  # pod uids already counted
    slots: dict[str, int] = field(default_factory=dict)  # pod uid -> index
    attempts: Counter[int] = field(default_factory=Counter)  # pods made per index
    started: float | None = None  # monotonic, for activeDeadlineSeconds
    start_time: str | None = None
    completion_time: str | None = None
    outcome: tuple[str, str, str] | None = None  # (Complete or Failed, reason, message)
    finished: float | None = None  # monotonic: when the terminal condition was written
    expired: bool = False  # deleted for its ttlSecondsAfterFinished
    conditions: dict[str, Obj] = field(default_factory=dict)

    def condition(self, kind: str, status: str, reason: str, message: str) -> None:
        old = self.conditions.get(kind)
        if old is not None and (old["status"], old["reason"]) == (status, reason):
            return
        now = _now()
        self.conditions[kind] = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }


class JobController:
    """Makes the pods of Jobs and writes the Jobs' status, as kube-controller-manager does."""

    def __init__(self, api: JsonApi, kubelet: Kubelet, node: str) -> None:
        self.api, self.kubelet, self.node = api, kubelet, node
        self.jobs: dict[str, JobState] = {}  # by uid
        self.seen: list[str] = []  # Job names, in the order they appeared
        self.first_seen: dict[str, Obj] = {}  # each Job's metadata as the node first saw it
        self.created: Counter[str] = Counter()  # pods made, by Job name
        self.faults: list[Fault] = []

    def sync(self, jobs: list[Obj], pods: list[Obj]) -> None:
        owned: dict[str, list[Obj]] = {}
        for pod in pods:
            owned.setdefault(_owner(pod), []).append(pod)
        for job in jobs:
            uid = _uid(job)
            if uid not in self.jobs:
                self.jobs[uid] = JobState(job["metadata"]["name"])
                self.seen.append(job["metadata"]["name"])
                self.first_seen[job["metadata"]["name"]] = copy.deepcopy(job["metadata"])
            if not _deleting(job):
                self._sync(job, self.jobs[uid], owned.get(uid, []))
        for gone in set(self.jobs) - {_uid(job) for job in jobs}:
            del self.jobs[gone]  # its pods are the garbage collector's now, or orphans

    def _sync(self, job: Obj, state: JobState, pods: list[Obj]) -> None:
        spec = job.get("spec") or {}
        if state.finished is not None:
            self._expire(job, state)
            return
        self._count(spec, state, pods)
        active = [pod for pod in pods if _phase(pod) not in FINAL_PHASES and not _deleting(pod)]
        state.outcome = state.outcome or _outcome(spec, state)
        if state.outcome is not None:
            self._finish(job, state, active)
            active = []
        elif spec.get("suspend"):
            self._delete(active)
            active = []
            state.condition("Suspended", "True", "JobSuspended", "Job suspended")
            state.started = state.start_time = None
        else:
            if "Suspended" in state.conditions:
                state.condition("Suspended", "False", "JobResumed", "Job resumed")
            if state.started is None:
                state.started, state.start_time = time.monotonic(), _now()
            active += self._create(job, state, active)
        status = _job_status(spec, state, active)
        if status != job.get("status"):
            meta = job["metadata"]
            self.api.write_status(jobs_path(meta["namespace"], meta["name"]), status)

    def _count(self, spec: Obj, state: JobState, pods: list[Obj]) -> None:
        """Count the pods that ended since the last pass, by the Job's limits and policy."""
        per_index = spec.get("backoffLimitPerIndex")
        for pod in pods:
            uid = _uid(pod)
            if _phase(pod) not in FINAL_PHASES or uid in state.counted:
                continue
            state.counted.add(uid)
            index = state.slots.get(uid, _annotated_index(pod))
            if index is None:
                continue
            if _phase(pod) == "Succeeded":
                state.succeeded.add(index)
                continue
            action, message = _policy_action(spec, pod)
            if action == "Ignore":
                continue
            state.failed += 1
            if action == "FailJob":
                state.outcome = state.outcome or ("Failed", "PodFailurePolicy", message)
            elif action == "FailIndex":
                state.failed_indexes.add(index)
            else:
                state.retries[index] += 1
                if per_index is not None and state.retries[index] > per_index:
                    state.failed_indexes.add(index)

    def _finish(self, job: Obj, state: JobState, active: list[Obj]) -> None:
        """The interim condition now; the terminal one once no process of the Job is left."""
        assert state.outcome is not None
        kind, reason, message = state.outcome
        interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
        state.condition(interim, "True", reason, message)
        self._delete(active)
        if active or self.kubelet.running(_uid(job)):
            return
        state.condition(kind, "True", reason, message)
        state.finished = time.monotonic()
        if kind == "Complete":
            state.completion_time = _now()

    def _create(self, job: Obj, state: JobState, active: list[Obj]) -> list[Obj]:
        spec, meta = job["spec"], job["metadata"]
        busy = {state.slots.get(_uid(pod), _annotated_index(pod)) for pod in active}
        waiting = [
            index
            for index in range(_completions(spec))
            if index not in state.succeeded | state.failed_indexes | busy
        ]
        room = max(0, int(spec.get("parallelism", 1)) - len(active))
        created: list[Obj] = []
        for index in waiting[:room]:
            try:
                pod = self.api.call(
                    "POST", pods_path(meta["namespace"]), _pod_for(job, index, self.node)
                )
            except kubernetes.client.ApiException as err:
                if err.status == 409:  # generateName collided: the next pass tries again
                    continue
                raise
            uid = _uid(pod)
            state.slots[uid] = index
            fault = next(
                (f for f in reversed(self.faults) if f.matches(job, index, state.attempts[index])),
                None,
            )
            if fault is not None:
                self.kubelet.faults[uid] = fault
            state.attempts[index] += 1
            self.created[meta["name"]] += 1
            created.append(pod)
        if created and not self._still_there(job):
            self._delete(created)  # the Job was deleted meanwhile: no orphans of ours
            return []
        return created

    def _still_there(self, job: Obj) -> bool:
        meta = job["metadata"]
        with _gone_is_none():
            return _uid(self.api.call("GET", jobs_path(meta["namespace"], meta["name"]))) == _uid(
                job
            )
        return False

    def _expire(self, job: Obj, state: JobState) -> None:
        """Delete a finished Job once its ttlSecondsAfterFinished has passed."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or state.expired or state.finished is None:
            return
        if time.monotonic() >= state.finished + float(ttl):
            state.expired = True
            meta = job["metadata"]
            self.api.delete(jobs_path(meta["namespace"], meta["name"]), "Background")

    def _delete(self, pods: Iterable[Obj]) -> None:
        for pod in pods:
            meta = pod["metadata"]
            self.api.delete(pods_path(meta["namespace"], meta["name"]))


def _outcome(spec: Obj, state: JobState) -> tuple[str, str, str] | None:
    """How the Job ends, if it ends now: (Complete or Failed, reason, message)."""
    completions = _completions(spec)
    per_index = spec.get("backoffLimitPerIndex")
    limit = spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT)
    if per_index is None and state.failed > limit:
        return "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    most = spec.get("maxFailedIndexes")
    if most is not None and len(state.failed_indexes) > most:
        return (
            "Failed",
            "MaxFailedIndexesExceeded",
            "Job has exceeded the specified maximal number of failed indexes",
        )
    if len(state.succeeded) >= completions:
        return "Complete", "CompletionsReached", "Reached expected number of succeeded pods"
    if state.failed_indexes and len(state.succeeded | state.failed_indexes) >= completions:
        return "Failed", "FailedIndexes", "Job has failed indexes"
    deadline = spec.get("activeDeadlineSeconds")
    active_for = 0.0 if state.started is None else time.monotonic() - state.started
    if deadline is not None and active_for >= float(deadline):
        return "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
    return None


def _policy_action(spec: Obj, pod: Obj) -> tuple[str, str]:
    """The action of the first podFailurePolicy rule the failed pod matches, else Count."""
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for number, rule in enumerate(rules):
        codes = rule.get("onExitCodes")
        if not codes:
            continue  # onPodConditions: no disruption ever happens on this node
        for status in statuses:
            code = ((status.get("state") or {}).get("terminated") or {}).get("exitCode")
            if not code or codes.get("containerName") not in (None, status["name"]):
                continue  # exit code 0 never matches
            if (code in codes.get("values", [])) == (codes.get("operator") == "In"):
                meta = pod["metadata"]
                return rule["action"], (
                    f"Container {status['name']} for pod {meta['namespace']}/{meta['name']} "
                    f"failed with exit code {code} matching {rule['action']} rule at index {number}"
                )
    return "Count", ""


def _job_status(spec: Obj, state: JobState, active: list[Obj]) -> Obj:
    status: Obj = {"ready": sum(_phase(pod) == "Running" for pod in active)}
    if state.start_time:
        status["startTime"] = state.start_time
    if state.completion_time:
        status["completionTime"] = state.completion_time
    for key, count in (("active", len(active)), ("succeeded", len(state.succeeded))):
        if count:
            status[key] = count
    if state.failed:
        status["failed"] = state.failed
    if spec.get("completionMode") == "Indexed":
        if state.succeeded:
            status["completedIndexes"] = compress(state.succeeded)
        if spec.get("backoffLimitPerIndex") is not None:
            status["failedIndexes"] = compress(state.failed_indexes)
    if state.conditions:
        status["conditions"] = list(state.conditions.values())
    return status


def _pod_for(job: Obj, index: int, node: str) -> Obj:
    """The pod the Job controller makes for ``index`` of ``job``."""
    meta, spec = job["metadata"], job["spec"]
    name, uid = meta["name"], meta["uid"]
    template = copy.deepcopy(spec.get("template") or {})
    labels = {
        **((template.get("metadata") or {}).get("labels") or {}),
        CONTROLLER_UID: uid,
        "controller-uid": uid,
        JOB_NAME: name,
        "job-name": name,
    }
    annotations = dict((template.get("metadata") or {}).get("annotations") or {})
    pod_spec = template.get("spec") or {}
    generate_name = f"{name}-"
    if spec.get("completionMode") == "Indexed":
        labels[COMPLETION_INDEX] = annotations[COMPLETION_INDEX] = str(index)
        generate_name = f"{name}-{index}-"
        pod_spec.setdefault("hostname", f"{name}-{index}")
        index_env = {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}},
        }
        for container in pod_spec.get("containers") or []:
            container.setdefault("env", []).append(index_env)
    pod_spec["nodeName"] = node
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": generate_name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": pod_spec,
    }


def compress(indexes: Iterable[int]) -> str:
    """``{0, 1, 2, 4}`` -> ``"0-2,4"``, as a Job's completedIndexes and failedIndexes read."""
    runs: list[list[int]] = []
    for index in sorted(set(indexes)):
        if runs and runs[-1][1] == index - 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _completions(spec: Obj) -> int:
    return int(spec.get("completions") or 1)


def _annotated_index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    return None if value is None else int(value)


# --- the node ------------------------------------------------------------------------


class FakeNode:
    """The Job controller and a kubelet for ``namespaces``, in a thread; use as a context.

    ``url`` is the API server's (``ApiServer.url``). Every ``tick`` seconds the
    node lists the namespaces' pods and Jobs, runs, stops and reports pods,
    and drives Jobs. On exit it kills its processes (SIGTERM, then SIGKILL
    after ``grace`` seconds) and waits for them; an error in its thread is
    raised there too.
    """

    def __init__(
        self,
        url: str,
        namespaces: Sequence[str] = ("default",),
        *,
        name: str = "fake-node",
        grace: float = 0.5,
        tick: float = 0.05,
    ) -> None:
        self.namespaces = tuple(namespaces)
        self.tick = tick
        self.error: BaseException | None = None
        self._api = JsonApi(url)
        self._root = Path(tempfile.mkdtemp(prefix="kube-node-"))
        self._kubelet = Kubelet(self._api, name, self._root, grace)
        self._controller = JobController(self._api, self._kubelet, name)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"kube-node-{name}", daemon=True)

    def __enter__(self) -> FakeNode:
        self._thread.start()
        return self

    def __exit__(self, failure: type[BaseException] | None, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the fake node did not stop"
        if self.error is not None and failure is None:
            raise RuntimeError("the fake node failed") from self.error

    # --- test controls ----------------------------------------------------------

    def inject(
        self,
        kind: FaultKind,
        *,
        job: str = "",
        labels: Mapping[str, str] | None = None,
        index: int | None = None,
        exit_code: int = 1,
        attempts: int | None = None,
    ) -> None:
        """Pods made from now on run a stand-in: it fails, is OOM-killed, or hangs.

        It applies to the pods of Jobs whose name starts with ``job`` and whose
        labels include ``labels``, for ``index`` (None: every index), for the
        first ``attempts`` pods of an index (None: every one). ``fail`` exits
        with ``exit_code`` (after a line on stderr); ``oom`` is killed as by
        the memory killer (exit 137, reason OOMKilled); ``hang`` runs until it
        is killed. The newest matching fault wins.
        """
        fault = Fault(kind, job, dict(labels or {}), index, exit_code, attempts)
        with self._lock:
            self._controller.faults.append(fault)

    @property
    def jobs_seen(self) -> list[str]:
        """The names of the Jobs the node has seen, in the order they appeared."""
        with self._lock:
            return list(self._controller.seen)

    @property
    def job_metadata(self) -> dict[str, Obj]:
        """Each seen Job's metadata (labels, owners, annotations) as it was created."""
        with self._lock:
            return dict(self._controller.first_seen)

    @property
    def pods_created(self) -> dict[str, int]:
        """How many pods the node made, by Job name."""
        with self._lock:
            return dict(self._controller.created)

    @property
    def running_pods(self) -> list[str]:
        """The pods whose process has not ended (and been reaped) yet."""
        with self._lock:
            return sorted(container.name for container in self._kubelet.containers.values())

    def logs(self, pod: str) -> str:
        """The output (stdout and stderr) of the pod's container so far; "" before it started."""
        with self._lock:
            path = self._kubelet.logs.get(pod)
        return path.read_text(errors="replace") if path is not None and path.exists() else ""

    # --- the loop ---------------------------------------------------------------

    def _main(self) -> None:
        try:
            while not self._stop.wait(self.tick):
                with self._lock:
                    self._step()
        except Exception as err:
            self.error = err
            log.exception("the fake node stopped")
        finally:
            with self._lock:
                self._kubelet.kill_all()
            self._api.close()
            shutil.rmtree(self._root, ignore_errors=True)

    def _step(self) -> None:
        # Pods before Jobs: a Job deleted in between is simply not seen, never seen podless.
        pods = [pod for ns in self.namespaces for pod in self._api.items(pods_path(ns))]
        jobs = [job for ns in self.namespaces for job in self._api.items(jobs_path(ns))]
        self._controller.sync(jobs, self._kubelet.sync(pods))


# --- small readers -------------------------------------------------------------------


def _uid(obj: Obj) -> str:
    return str(obj["metadata"]["uid"])


def _owner(pod: Obj) -> str:
    """The uid of the Job that controls the pod, or ""."""
    references = pod["metadata"].get("ownerReferences") or []
    return next((str(r["uid"]) for r in references if r.get("kind") == "Job"), "")


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _deleting(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
