"""A Cloud Run Admin API v2 fake: the REST subset ``google.cloud.run_v2`` speaks.

Point the real clients at it with ``transport="rest"``, ``client_options=
{"api_endpoint": fake.url}`` and anonymous credentials. It keeps Jobs,
Executions and Tasks in memory, answers in the API's JSON (camelCase names,
RFC 3339 times, ``"600s"`` durations, long-running Operations), and runs each
execution's tasks as local processes (see :mod:`runner`).

What it models from the real API, because chalkline relies on it:
- ``jobs:run`` answers at once with an Operation whose ``metadata`` is the
  Execution, so its name is known before any task starts;
- overrides change env, args, task count and timeout, never CPU or memory;
- an Execution's labels come from the Job template only;
- ListExecutions has no filter.
Every request is logged as ``(method, path)`` so tests can count executions.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.cloudrun_fake.runner import (
    ExecutionRun,
    FakeTask,
    Fault,
    FaultKind,
    RunSpec,
    now_rfc3339,
)

JSON = dict[str, Any]
_TYPE = "type.googleapis.com/google.cloud.run.v2."
_LOCATION = r"projects/[^/]+/locations/[^/]+"
_JOB = rf"{_LOCATION}/jobs/[^/:]+"
_EXECUTION = rf"{_JOB}/executions/[^/:]+"


class ApiError(Exception):
    """An error answer, in Google's JSON error shape."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> JSON:
        return {"error": {"code": self.code, "status": self.status, "message": self.message}}


def not_found(name: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"Resource '{name}' was not found")


@dataclass
class FakeExecution:
    name: str
    job: str
    labels: dict[str, str]
    template: JSON  # the TaskTemplate with overrides applied
    parallelism: int
    run: ExecutionRun
    create_time: str
    operation: str


class CloudRunFake:
    """The fake API on ``127.0.0.1`` (a free port), serving from a thread; use as a context."""

    def __init__(self) -> None:
        self.jobs: dict[str, JSON] = {}
        self.executions: dict[str, FakeExecution] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: dict[int, Fault] = {}
        self.lock = threading.RLock()
        self._throttled = 0
        self._ids = itertools.count(1)
        self._logs = Path(tempfile.mkdtemp(prefix="cloudrun-fake-"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="cloudrun-fake")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> CloudRunFake:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server, kill every task still running, wait for every thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        for execution in list(self.executions.values()):
            execution.run.cancel()
        for execution in list(self.executions.values()):
            execution.run.join()
        shutil.rmtree(self._logs, ignore_errors=True)

    # --- test controls ----------------------------------------------------------

    def inject(self, index: int, kind: FaultKind, attempts: int | None = None) -> None:
        """Executions started from now on: task ``index`` fails, is OOM-killed, or hangs."""
        self.faults[index] = Fault(kind, attempts)

    def throttle(self, requests: int) -> None:
        """Answer the next ``requests`` requests with 429 RESOURCE_EXHAUSTED."""
        with self.lock:
            self._throttled = requests

    def count(self, method: str, pattern: str) -> int:
        """How many logged requests had ``method`` and a path matching ``pattern``."""
        return sum(m == method and re.fullmatch(pattern, p) is not None for m, p in self.requests)

    def task_logs(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in sorted(self._logs.rglob("*.log"))}

    # --- dispatch ---------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: JSON) -> JSON:
        with self.lock:
            self.requests.append((method, path))
            if self._throttled:
                self._throttled -= 1
                raise ApiError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for read requests")
            for route_method, pattern, action in self._routes():
                match = re.fullmatch(pattern, path)
                if match and route_method == method:
                    return action(match.group(1), query, body)
        raise ApiError(404, "NOT_FOUND", f"no route for {method} {path}")

    def _routes(self) -> list[tuple[str, str, Callable[[str, dict[str, str], JSON], JSON]]]:
        return [
            ("POST", rf"/v2/({_LOCATION})/jobs", self._create_job),
            ("GET", rf"/v2/({_LOCATION})/jobs", self._list_jobs),
            ("GET", rf"/v2/({_JOB})", lambda name, q, b: self._job(name)),
            ("PATCH", rf"/v2/({_JOB})", self._update_job),
            ("DELETE", rf"/v2/({_JOB})", self._delete_job),
            ("POST", rf"/v2/({_JOB}):run", self._run_job),
            ("GET", rf"/v2/({_JOB})/executions", self._list_executions),
            ("GET", rf"/v2/({_EXECUTION})", lambda name, q, b: self._execution_json(name)),
            ("DELETE", rf"/v2/({_EXECUTION})", self._delete_execution),
            ("POST", rf"/v2/({_EXECUTION}):cancel", self._cancel_execution),
            ("GET", rf"/v2/({_EXECUTION})/tasks", self._list_tasks),
            ("GET", rf"/v2/({_EXECUTION}/tasks/[^/]+)", self._get_task),
            ("GET", rf"/v2/({_LOCATION}/operations/[^/]+)", self._get_operation),
        ]

    # --- jobs -------------------------------------------------------------------

    def _create_job(self, parent: str, query: dict[str, str], body: JSON) -> JSON:
        job_id = query.get("jobId", "")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", job_id):
            raise ApiError(400, "INVALID_ARGUMENT", f"invalid job id {job_id!r}")
        name = f"{parent}/jobs/{job_id}"
        if name in self.jobs:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource '{name}' already exists")
        now = now_rfc3339()
        job = {**body, "name": name, "uid": secrets.token_hex(8), "generation": "1"}
        job.update(createTime=now, updateTime=now, etag=secrets.token_hex(4))
        self.jobs[name] = job
        return _operation(f"{parent}/operations/{secrets.token_hex(6)}", "Job", job, done=True)

    def _list_jobs(self, parent: str, query: dict[str, str], body: JSON) -> JSON:
        return {"jobs": [job for name, job in self.jobs.items() if name.startswith(parent + "/")]}

    def _job(self, name: str) -> JSON:
        if name not in self.jobs:
            raise not_found(name)
        return self.jobs[name]

    def _update_job(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        old = self._job(name)
        job = {**body, "name": name, "uid": old["uid"], "createTime": old["createTime"]}
        job.update(
            generation=str(int(old["generation"]) + 1),
            updateTime=now_rfc3339(),
            etag=secrets.token_hex(4),
        )
        self.jobs[name] = job
        return _operation(_operation_name(name), "Job", job, done=True)

    def _delete_job(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        job = self._job(name)
        for execution in self.executions.values():
            if execution.job == name:
                execution.run.cancel()
        del self.jobs[name]
        return _operation(_operation_name(name), "Job", job, done=True)

    def _run_job(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        job = self._job(name)
        template = copy.deepcopy(job.get("template", {}))
        overrides = body.get("overrides", {})
        task_template = _apply_overrides(template.get("template", {}), overrides)
        task_count = int(overrides.get("taskCount") or template.get("taskCount") or 1)
        execution_id = f"{name.rsplit('/', 1)[-1]}-{secrets.token_hex(3)}"
        execution_name = f"{name}/executions/{execution_id}"
        container = task_template.get("containers", [{}])[0]
        spec = RunSpec(
            execution=execution_name,
            job=name,
            command=(*container.get("command", []), *container.get("args", [])),
            env={e["name"]: e.get("value", "") for e in container.get("env", [])},
            task_count=task_count,
            parallelism=int(template.get("parallelism") or 0),
            max_retries=int(task_template.get("maxRetries", 3)),
            timeout_s=_seconds(task_template.get("timeout", "600s")),
            memory=container.get("resources", {}).get("limits", {}).get("memory", "512Mi"),
        )
        logs = self._logs / execution_id
        logs.mkdir()
        execution = FakeExecution(
            name=execution_name,
            job=name,
            labels=dict(template.get("labels", {})),
            template=task_template,
            parallelism=spec.parallelism,
            run=ExecutionRun(spec, dict(self.faults), logs),
            create_time=now_rfc3339(),
            operation=_operation_name(execution_name),
        )
        self.executions[execution_name] = execution
        job["latestCreatedExecution"] = {"name": execution_name, "createTime": now_rfc3339()}
        job["executionCount"] = int(job.get("executionCount", 0)) + 1
        execution.run.start()
        return self._run_operation(execution)

    # --- executions and tasks ---------------------------------------------------

    def _list_executions(self, job: str, query: dict[str, str], body: JSON) -> JSON:
        self._job(job)
        mine = [e.name for e in self.executions.values() if e.job == job]
        return {"executions": [self._execution_json(name) for name in reversed(mine)]}

    def _delete_execution(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        found = self._execution_json(name)
        execution = self.executions.pop(name)
        execution.run.cancel()
        return _operation(execution.operation, "Execution", found, done=True)

    def _cancel_execution(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        self._execution_json(name)
        self.executions[name].run.cancel()
        return _operation(
            self.executions[name].operation, "Execution", self._execution_json(name), done=True
        )

    def _list_tasks(self, execution: str, query: dict[str, str], body: JSON) -> JSON:
        self._execution_json(execution)
        run = self.executions[execution].run
        with run.lock:
            return {"tasks": [self._task_json(execution, task) for task in run.tasks]}

    def _get_task(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        execution_name, _, task_id = name.rpartition("/tasks/")
        self._execution_json(execution_name)
        run = self.executions[execution_name].run
        with run.lock:
            for task in run.tasks:
                if _task_id(execution_name, task.index) == task_id:
                    return self._task_json(execution_name, task)
        raise not_found(name)

    def _get_operation(self, name: str, query: dict[str, str], body: JSON) -> JSON:
        for execution in self.executions.values():
            if execution.operation == name:
                return self._run_operation(execution)
        raise not_found(name)

    def _run_operation(self, execution: FakeExecution) -> JSON:
        found = self._execution_json(execution.name)
        operation = _operation(execution.operation, "Execution", found, done=False)
        operation["metadata"] = {"@type": _TYPE + "Execution", **found}
        if execution.run.finished:
            operation.update(done=True, response={"@type": _TYPE + "Execution", **found})
        return operation

    def _execution_json(self, name: str) -> JSON:
        execution = self.executions.get(name)
        if execution is None:
            raise not_found(name)
        run = execution.run
        with run.lock:
            states = [task.state for task in run.tasks]
            found: JSON = {
                "name": name,
                "uid": name.rsplit("-", 1)[-1],
                "job": execution.job.rsplit("/", 1)[-1],
                "labels": execution.labels,
                "createTime": execution.create_time,
                "startTime": run.start_time,
                "parallelism": execution.parallelism,
                "taskCount": len(run.tasks),
                "template": execution.template,
                "runningCount": states.count("RUNNING"),
                "succeededCount": states.count("SUCCEEDED"),
                "failedCount": states.count("FAILED"),
                "cancelledCount": states.count("CANCELLED"),
                "retriedCount": sum(task.retried for task in run.tasks),
                "conditions": [_execution_condition(run)],
                "reconciling": not run.finished,
                "etag": secrets.token_hex(4),
            }
            if run.completion_time:
                found["completionTime"] = run.completion_time
            return found

    def _task_json(self, execution: str, task: FakeTask) -> JSON:
        run = self.executions[execution].run
        found: JSON = {
            "name": f"{execution}/tasks/{_task_id(execution, task.index)}",
            "job": execution.split("/jobs/")[1].split("/")[0],
            "execution": execution.rsplit("/", 1)[-1],
            "index": task.index,
            "retried": task.retried,
            "containers": run_containers(self.executions[execution].template),
            "maxRetries": run.spec.max_retries,
            "timeout": f"{run.spec.timeout_s:g}s",
            "createTime": self.executions[execution].create_time,
            "conditions": [_task_condition(task)],
        }
        if task.start_time:
            found["startTime"] = task.start_time
        if task.completion_time:
            found["completionTime"] = task.completion_time
        if task.exit_code is not None:
            code = 0 if task.exit_code == 0 else 2  # google.rpc.Code UNKNOWN
            found["lastAttemptResult"] = {
                "status": {"code": code, "message": task.message},
                "exitCode": task.exit_code,
            }
        return found


def run_containers(template: JSON) -> list[JSON]:
    return list(template.get("containers", []))


def _apply_overrides(template: JSON, overrides: JSON) -> JSON:
    """The TaskTemplate after a run's overrides: env merged by name, args replaced, timeout."""
    for override in overrides.get("containerOverrides", []):
        containers = template.get("containers", [])
        named = [c for c in containers if c.get("name") == override.get("name")]
        for container in named or containers[:1]:
            env = {e["name"]: e for e in container.get("env", [])}
            env.update({e["name"]: e for e in override.get("env", [])})
            container["env"] = list(env.values())
            if override.get("args") or override.get("clearArgs"):
                container["args"] = list(override.get("args", []))
    if overrides.get("timeout"):
        template["timeout"] = overrides["timeout"]
    return template


def _execution_condition(run: ExecutionRun) -> JSON:
    condition: JSON = {"type": "Completed", "lastTransitionTime": now_rfc3339()}
    if not run.finished:
        return {**condition, "state": "CONDITION_PENDING"}
    if run.cancelling:
        return {**condition, "state": "CONDITION_FAILED", "executionReason": "CANCELLED"}
    failed = [task for task in run.tasks if task.state == "FAILED"]
    if not failed:
        return {**condition, "state": "CONDITION_SUCCEEDED"}
    message = f"Task {failed[0].index} failed with message: {failed[0].message}"
    return {
        **condition,
        "state": "CONDITION_FAILED",
        "executionReason": "NON_ZERO_EXIT_CODE",
        "message": f"{message} ({len(failed)} of {len(run.tasks)} tasks failed)",
    }


def _task_condition(task: FakeTask) -> JSON:
    condition: JSON = {"type": "Completed", "lastTransitionTime": now_rfc3339()}
    if task.state == "SUCCEEDED":
        return {**condition, "state": "CONDITION_SUCCEEDED"}
    if task.state == "FAILED":
        reason = {"executionReason": "NON_ZERO_EXIT_CODE", "message": task.message}
        return {**condition, "state": "CONDITION_FAILED", **reason}
    if task.state == "CANCELLED":
        reason = {"executionReason": "CANCELLED", "message": task.message}
        return {**condition, "state": "CONDITION_FAILED", **reason}
    return {**condition, "state": "CONDITION_PENDING"}


def _task_id(execution: str, index: int) -> str:
    return f"{execution.rsplit('/', 1)[-1]}-task{index}"


def _operation(name: str, kind: str, resource: JSON, *, done: bool) -> JSON:
    operation: JSON = {"name": name, "done": done, "metadata": {"@type": _TYPE + kind, **resource}}
    if done:
        operation["response"] = {"@type": _TYPE + kind, **resource}
    return operation


def _operation_name(resource: str) -> str:
    location = "/".join(resource.split("/")[:4])
    return f"{location}/operations/{secrets.token_hex(6)}"


def _seconds(duration: str) -> float:
    return float(duration.removesuffix("s"))


def _handler_for(fake: CloudRunFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
                status, answer = 200, fake.handle(method, url.path, query, body)
            except ApiError as err:
                status, answer = err.code, err.body()
            except Exception as err:  # a fake's bug must reach the test, not hang it
                status, answer = 500, ApiError(500, "INTERNAL", repr(err)).body()
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
