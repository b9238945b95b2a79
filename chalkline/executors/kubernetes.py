"""The ``kubernetes`` executor: render and stitch as batch/v1 Jobs on the operator's cluster.

A render launch is one Indexed Job whose pods each run one task of a render
plan (``JOB_COMPLETION_INDEX``); a stitch is a one-pod Job sized by its tier
(see :mod:`chalkline.executors.kubernetes_jobs` for the manifests). The
handle is ``NAMESPACE/JOB``; nothing lives only in this process's memory:
the plan's URI and the launch key are annotations on the Job, so a restarted
operator polls, adopts (a create that meets 409) and cancels exactly as the
one before it.

The cluster schedules, retries (per index) and garbage-collects; this module
only reads what the Job controller and the kubelet report and turns it into
an :class:`~chalkline.executors.base.ExecutionReport`:

- an index in ``completedIndexes`` succeeded: its manifest is read from storage;
- an index in ``failedIndexes``, or not completed when the Job failed, failed:
  its message is the worker's own (stored beside the clip) or the pod's
  termination message (the end of its output, FallbackToLogsOnError);
- a stitch pod killed for memory (``OOMKilled``) or a Job past its deadline
  reports StitchOutOfMemory / StitchTimedOut, so the reconciler escalates it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from chalkline.core.errors import ChalklineError, InvalidSpec
from chalkline.core.layout import (
    JobRef,
    manifest_uri,
    render_plan_uri,
    stitch_order_uri,
    stitch_result_uri,
)
from chalkline.core.quantities import format_cpu
from chalkline.core.records import (
    PlannedScene,
    RenderPlan,
    StitchOrder,
    read_stitch_result,
    write_plan,
)
from chalkline.executors.base import (
    ExecutionPhase,
    ExecutionReport,
    RenderWork,
    StitchWork,
    TaskPhase,
    TaskReport,
)
from chalkline.executors.kubernetes_jobs import (
    ANNOTATION_KEY,
    ANNOTATION_PLAN,
    JobIntent,
    KubernetesJobsConfig,
    PodSize,
    job_name,
    job_namespace,
    parse_indexes,
    prepare_job,
    server_version,
)
from chalkline.executors.planned_outputs import PlannedOutputs, render_plan_of
from chalkline.stitcher.tiers import TierTable
from chalkline.storage.base import Storage

#: The label the Job controller puts on its pods.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
_DOCS_HINT = "see docs/configuration.md, section 'Kubernetes Jobs'"

Obj = dict[str, Any]


def load_api_client() -> client.ApiClient:
    """An API client with the pod's service account, or the current kubeconfig context."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        try:
            config.load_kube_config(client_configuration=configuration)
        except (config.ConfigException, OSError) as err:
            raise InvalidSpec(
                f"no Kubernetes credentials: not in a cluster, and no usable kubeconfig ({err})",
                hint="run in a pod with a service account, or point KUBECONFIG at a kubeconfig",
            ) from None
    return client.ApiClient(configuration)


@dataclass(frozen=True)
class _Observed:
    """One poll's reading of a Job and its pods."""

    job: Obj
    pods: list[Obj]

    def condition(self, kind: str) -> Obj | None:
        for condition in (self.job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == kind and condition.get("status") == "True":
                return dict(condition)
        return None

    def indexes(self, field: str) -> set[int]:
        return parse_indexes((self.job.get("status") or {}).get(field))

    def pods_of(self, index: int) -> list[Obj]:
        """The pods of one index, the newest last."""
        mine = [p for p in self.pods if _labels(p).get(INDEX_LABEL) == str(index)]
        return sorted(mine, key=lambda p: p["metadata"].get("creationTimestamp") or "")


class KubernetesExecutor:
    """Runs renders and stitches as Jobs; see the module docstring."""

    name = "kubernetes"

    def __init__(
        self,
        storage: Storage,
        jobs: KubernetesJobsConfig,
        tier_table: TierTable,
        api_client: client.ApiClient | None = None,
    ) -> None:
        self.storage = storage
        self.jobs = jobs
        self.tier_table = tier_table
        self.api = api_client if api_client is not None else load_api_client()
        self._server: tuple[int, int] | None = None
        self._outputs = PlannedOutputs(storage)
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    # --- the Executor contract ------------------------------------------------------

    def launch_render(
        self,
        key: str,
        work: list[RenderWork],
        parallelism: int,
        *,
        scratch_uri: str,
        owner: JobRef | None = None,
    ) -> str:
        plan = render_plan_of(work, "render Job")
        size = self.jobs.render_sizes.get(plan.quality)
        if size is None:
            raise InvalidSpec(f"no render pod size for quality {plan.quality!r}", hint=_DOCS_HINT)
        plan_uri = render_plan_uri(scratch_uri, key)
        write_plan(self.storage, plan_uri, plan)
        intent = JobIntent(
            "render", key, plan_uri, owner, len(work), parallelism, size, deadline_seconds=None
        )
        return self._create(intent)

    def launch_stitch(self, key: str, work: StitchWork, *, owner: JobRef | None = None) -> str:
        tier = next((t for t in self.tier_table.tiers if t.name == work.tier), None)
        if tier is None:
            raise InvalidSpec(f"a stitch must be given a known tier, not {work.tier!r}")
        order_uri = stitch_order_uri(work.scratch_uri, key)
        result_uri = stitch_result_uri(work.scratch_uri, key)
        order = StitchOrder(work.clip_uris, work.output_uri, result_uri)
        write_plan(self.storage, order_uri, order)
        size = PodSize(format_cpu(float(tier.cpu)), tier.memory)
        deadline = work.timeout_seconds or tier.timeout_s
        intent = JobIntent("stitch", key, order_uri, owner, 1, 1, size, deadline_seconds=deadline)
        return self._create(intent)

    def poll(self, handle: str) -> ExecutionReport:
        namespace, name = _split(handle)
        try:
            job = self._request("GET", _job_path(namespace, name))
        except ApiException as err:
            if err.status == 404:
                cancelled = handle in self._cancelled
                phase: ExecutionPhase = "Cancelled" if cancelled else "Unknown"
                return ExecutionReport(handle, phase, message="the Job is gone")
            raise
        if job["metadata"].get("deletionTimestamp") or handle in self._cancelled:
            return ExecutionReport(handle, "Cancelled", message="the Job was deleted")
        selector = {"labelSelector": f"{JOB_NAME_LABEL}={name}"}
        pods = self._request("GET", f"/api/v1/namespaces/{namespace}/pods", selector)["items"]
        observed = _Observed(job, pods)
        plan = self._plan(handle, job)
        if isinstance(plan, StitchOrder):
            return self._stitch_report(handle, observed, plan)
        return self._render_report(handle, observed, plan)

    def cancel(self, handle: str) -> None:
        """Stop a running Job: delete it and, in the background, its pods.

        (A plain delete of a batch/v1 Job orphans its pods.) A Job that has
        already finished is left to its ``ttlSecondsAfterFinished``, so a
        failed pod stays for ``kubectl logs``; with an owner reference the
        garbage collector also removes it with its RenderJob.
        """
        namespace, name = _split(handle)
        try:
            job = self._request("GET", _job_path(namespace, name))
        except ApiException as err:
            if err.status == 404:
                return
            raise
        finished = _Observed(job, [])
        if finished.condition("Complete") or finished.condition("Failed"):
            return
        with self._lock:
            self._cancelled.add(handle)
        try:
            self._request("DELETE", _job_path(namespace, name), {"propagationPolicy": "Background"})
        except ApiException as err:
            if err.status != 404:
                raise

    def release(self, handle: str) -> None:
        """Delete the Job, finished or not, with its pods: its RenderJob is gone."""
        namespace, name = _split(handle)
        try:
            self._request("DELETE", _job_path(namespace, name), {"propagationPolicy": "Background"})
        except ApiException as err:
            if err.status != 404:
                raise
        self._outputs.forget(handle)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()

    # --- launching ------------------------------------------------------------------

    def _create(self, intent: JobIntent) -> str:
        manifest = prepare_job(self.jobs, intent, self._server_version())
        namespace = job_namespace(self.jobs, intent.owner)
        name = job_name(intent.role, intent.key)
        try:
            self._request("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", body=manifest)
        except ApiException as err:
            if err.status != 409:
                raise _api_error(err, f"cannot create Job {namespace}/{name}") from None
            self._adopt(namespace, name, intent.key)
        return f"{namespace}/{name}"

    def _adopt(self, namespace: str, name: str, key: str) -> None:
        """A Job of this name exists: the same launch after a restart, or a collision."""
        found = self._request("GET", _job_path(namespace, name))
        if (found["metadata"].get("annotations") or {}).get(ANNOTATION_KEY) != key:
            raise InvalidSpec(
                f"Job {namespace}/{name} exists but was not launched for {key}",
                hint="delete that Job; chalkline names its Jobs chalkline-render-*, -stitch-*",
            )

    def _server_version(self) -> tuple[int, int]:
        if self._server is None:
            info = self._request("GET", "/version")
            self._server = server_version(str(info.get("gitVersion", "")))
        return self._server

    # --- reports --------------------------------------------------------------------

    def _render_report(self, handle: str, seen: _Observed, plan: RenderPlan) -> ExecutionReport:
        failed_job = seen.condition("Failed")
        tasks = tuple(
            self._task_report(handle, position, planned, seen, failed_job)
            for position, planned in enumerate(plan.tasks)
        )
        if seen.condition("Complete"):
            phase: ExecutionPhase = "Succeeded"
        elif failed_job is not None:
            phase = "Failed"
        else:
            return ExecutionReport(handle, "Running", tasks)
        failures = [t.message for t in tasks if t.phase == "Failed"]
        message = failures[0] if failures else _condition_text(failed_job)
        reason = "RenderFailed" if phase == "Failed" else ""
        return ExecutionReport(handle, phase, tasks, message=message, reason=reason)

    def _task_report(
        self,
        handle: str,
        position: int,
        planned: PlannedScene,
        seen: _Observed,
        failed_job: Obj | None,
    ) -> TaskReport:
        pods = seen.pods_of(position)
        seconds = _run_seconds(pods[-1]) if pods else 0.0
        if position in seen.indexes("completedIndexes"):
            manifest = self._outputs.manifest(handle, position, planned.clip)
            if manifest is None:
                said = f"the task succeeded but left no manifest at {manifest_uri(planned.clip)}"
                return TaskReport(planned.index, "Failed", seconds, said)
            return TaskReport(planned.index, "Succeeded", seconds, manifest=manifest)
        if position in seen.indexes("failedIndexes") or failed_job is not None:
            # The worker's own words name the scene already; the cluster's do not.
            said = self._outputs.failure(planned.clip) or (
                f"scene {planned.scene}: {_pod_message(pods) or _condition_text(failed_job)}"
            )
            return TaskReport(planned.index, "Failed", seconds, said)
        running = any(p.get("status", {}).get("phase") == "Running" for p in pods)
        phase: TaskPhase = "Running" if running else "Pending"
        return TaskReport(planned.index, phase, seconds)

    def _stitch_report(self, handle: str, seen: _Observed, order: StitchOrder) -> ExecutionReport:
        if seen.condition("Complete"):
            try:
                details = read_stitch_result(self.storage, order.result)
            except Exception as err:  # missing or unreadable: the stitch did not report
                said = f"the stitch succeeded but its result {order.result} is unreadable: {err}"
                return ExecutionReport(handle, "Failed", message=said, reason="StitchFailed")
            return ExecutionReport(handle, "Succeeded", details=details)
        failed = seen.condition("Failed")
        if failed is None:
            return ExecutionReport(handle, "Running")
        pods = seen.pods_of(0)
        reasons = {_terminated(p).get("reason") for p in pods}
        if "OOMKilled" in reasons:
            reason = "StitchOutOfMemory"
        elif failed.get("reason") == "DeadlineExceeded" or "DeadlineExceeded" in reasons:
            reason = "StitchTimedOut"
        else:
            reason = "StitchFailed"
        message = _pod_message(pods) or _condition_text(failed)
        return ExecutionReport(handle, "Failed", message=message, reason=reason)

    def _plan(self, handle: str, job: Obj) -> RenderPlan | StitchOrder:
        uri = (job["metadata"].get("annotations") or {}).get(ANNOTATION_PLAN)
        if not uri:
            raise InvalidSpec(f"Job {handle} has no {ANNOTATION_PLAN}: not launched by chalkline")
        return self._outputs.plan(handle, uri)

    def _request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Obj | None = None,
    ) -> Obj:
        """One API call with plain JSON in and out, through the client's auth and TLS.

        The typed models validate strictly and lag behind the batch API's
        newer fields (backoffLimitPerIndex, failedIndexes), so Jobs are
        handled as the JSON the API server speaks.
        """
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self.api.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*request)
        response.read()
        if not 200 <= response.status < 300:
            raise ApiException(http_resp=response)
        data: Obj = json.loads(response.data or b"{}")
        return data


def _job_path(namespace: str, name: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"


def _split(handle: str) -> tuple[str, str]:
    namespace, _, name = handle.partition("/")
    if not namespace or not name:
        raise InvalidSpec(f"{handle!r} is not a Kubernetes Job handle (NAMESPACE/NAME)")
    return namespace, name


def _labels(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def _terminated(pod: Obj) -> Obj:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return dict((statuses[0].get("state") or {}).get("terminated") or {})


def _pod_message(pods: list[Obj]) -> str:
    """What the newest failed pod says: its termination message, else its reason and code."""
    for pod in reversed(pods):
        terminated = _terminated(pod)
        if not terminated or terminated.get("exitCode") == 0:
            continue
        message = str(terminated.get("message") or "").strip()
        tail = message.splitlines()[-1] if message else ""
        cause = f"{terminated.get('reason', 'Error')}, exit code {terminated.get('exitCode')}"
        return f"{tail} ({cause})" if tail else cause
    return ""


def _condition_text(condition: Obj | None) -> str:
    if condition is None:
        return ""
    return f"{condition.get('reason', 'Failed')}: {condition.get('message', '')}".rstrip(": ")


def _run_seconds(pod: Obj) -> float:
    terminated = _terminated(pod)
    try:
        started = datetime.fromisoformat(str(terminated["startedAt"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(terminated["finishedAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return round((finished - started).total_seconds(), 3)


def _api_error(err: ApiException, what: str) -> ChalklineError:
    try:
        said = json.loads(err.body or "{}").get("message", "")
    except (TypeError, ValueError):
        said = ""
    return ChalklineError(f"{what}: {err.status} {err.reason}: {said}".rstrip(": "))
