"""The fake node (tests/support/kube_node.py) against the API server emulator.

The operator's kubernetes backend is tested on this pair, so the pair must
behave as a cluster does where the backend looks: Job and pod status,
conditions and their reasons, what a delete takes with it. Everything here
goes through the real ``kubernetes`` client, and the objects are read back
once through its typed models, which reject any field Kubernetes lacks.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.support.harness import ApiServer, alive, wait_until
from tests.support.kube_node import FakeNode, JsonApi, compress, jobs_path, pods_path

Obj = dict[str, Any]
NS = "default"


@pytest.fixture
def api(kube_api: ApiServer) -> Iterator[JsonApi]:
    """A test's client of the API server, in plain JSON like the node's own."""
    client = JsonApi(kube_api.url)
    yield client
    client.close()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def job(
    name: str,
    command: list[str],
    *,
    completions: int = 1,
    parallelism: int = 1,
    container: Obj | None = None,
    **spec: Any,
) -> Obj:
    """An Indexed Job (unless ``completionMode`` says otherwise) running ``command``."""
    main = {"name": "main", "image": "example/chalkline:test", "command": command}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "chalkline"}},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "completionMode": "Indexed",
            "template": {
                "metadata": {"labels": {"role": "render"}},
                "spec": {"restartPolicy": "Never", "containers": [{**main, **(container or {})}]},
            },
            **spec,
        },
    }


def with_condition(api: JsonApi, name: str, kind: str, timeout: float = 5) -> Obj:
    """The Job once its condition ``kind`` (Complete, Failed, Suspended...) is True."""

    def check() -> Obj | None:
        found = api.call("GET", jobs_path(NS, name))
        return found if kind in true_conditions(found) else None

    return wait_until(check, timeout, f"Job {name} {kind}")


def true_conditions(obj: Obj) -> list[str]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return [c["type"] for c in conditions if c["status"] == "True"]


def condition(obj: Obj, kind: str) -> Obj:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


def pods_of(api: JsonApi, name: str) -> list[Obj]:
    """The Job's pods that still exist, by completion index."""
    found = api.call("GET", pods_path(NS), labelSelector=f"job-name={name}")["items"]
    return sorted(found, key=lambda pod: pod["metadata"]["name"])


def terminated(pod: Obj) -> Obj:
    state: Obj = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state


def running(api: JsonApi, name: str, count: int) -> list[Obj]:
    """The Job's pods once ``count`` of them are Running."""

    def check() -> list[Obj] | None:
        pods = [p for p in pods_of(api, name) if p["status"]["phase"] == "Running"]
        return pods if len(pods) == count else None

    return wait_until(check, 5, f"{count} running pods of {name}")


# --- success -------------------------------------------------------------------------


def test_an_indexed_job_runs_each_index_once_and_completes(
    api: JsonApi, fake_node: FakeNode, kube_api: ApiServer
) -> None:
    code = "import os; print('index', os.environ['JOB_COMPLETION_INDEX'], os.environ['HOSTNAME'])"
    env = {"env": [{"name": "GREETING", "value": "hello"}]}
    command = python(code + "; print('$(GREETING)', os.environ['GREETING'])")
    api.call(
        "POST", jobs_path(NS), job("render", command, completions=3, parallelism=2, container=env)
    )

    done = with_condition(api, "render", "Complete")

    status = done["status"]
    assert (status["completedIndexes"], status["succeeded"]) == ("0-2", 3)
    assert "active" not in status and "failed" not in status
    assert status["startTime"] <= status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    pods = pods_of(api, "render")
    for index, pod in enumerate(pods):
        meta = pod["metadata"]
        assert meta["name"].startswith(f"render-{index}-")
        assert meta["labels"]["role"] == "render"  # the template's labels, and the controller's:
        assert meta["labels"]["batch.kubernetes.io/job-name"] == "render"
        assert meta["labels"]["batch.kubernetes.io/job-completion-index"] == str(index)
        assert meta["annotations"]["batch.kubernetes.io/job-completion-index"] == str(index)
        assert meta["ownerReferences"][0]["uid"] == done["metadata"]["uid"]
        assert pod["status"]["phase"] == "Succeeded"
        assert (terminated(pod)["exitCode"], terminated(pod)["reason"]) == (0, "Completed")
        assert fake_node.logs(meta["name"]) == f"index {index} render-{index}\nhello hello\n"
    assert fake_node.jobs_seen == ["render"]
    assert fake_node.pods_created == {"render": 3}
    assert fake_node.running_pods == []
    # The typed models accept every field written (they reject unknown ones).
    config = kubernetes.client.Configuration(host=kube_api.url)
    with kubernetes.client.ApiClient(config) as client:
        typed = kubernetes.client.BatchV1Api(client).read_namespaced_job("render", NS)
        assert typed.status is not None and typed.status.completed_indexes == "0-2"
        typed_pods = kubernetes.client.CoreV1Api(client).list_namespaced_pod(NS).items
        assert [p.status and p.status.phase for p in typed_pods] == ["Succeeded"] * 3
        assert kubernetes.client.VersionApi(client).get_code().git_version == "v1.33.0"


def test_parallelism_bounds_the_pods_running_at_once(
    api: JsonApi, fake_node: FakeNode, tmp_path: Path
) -> None:
    spans = tmp_path / "spans"
    spans.mkdir()
    command = python(f"""
        import os, time
        start = time.monotonic(); time.sleep(0.3)
        open(os.path.join({str(spans)!r}, os.environ['JOB_COMPLETION_INDEX']), 'w').write(
            f'{{start}} {{time.monotonic()}}')
    """)
    api.call("POST", jobs_path(NS), job("wide", command, completions=4, parallelism=2))

    with_condition(api, "wide", "Complete")

    ran = [tuple(map(float, path.read_text().split())) for path in spans.iterdir()]
    at_once = max(sum(s <= start < e for s, e in ran) for start, _ in ran)
    assert (len(ran), at_once) == (4, 2)


def test_a_non_indexed_job_is_one_pod_and_its_ttl_deletes_it(
    api: JsonApi, fake_node: FakeNode, tmp_path: Path
) -> None:
    seen = tmp_path / "seen"
    command = python(f"""
        import os
        env = os.environ
        open({str(seen)!r}, 'w').write(f"{{env.get('JOB_COMPLETION_INDEX')}} {{env['HOSTNAME']}}")
    """)
    manifest = job("stitch", command, completionMode="NonIndexed", ttlSecondsAfterFinished=0)
    api.call("POST", jobs_path(NS), manifest)

    wait_until(lambda: not api.items(jobs_path(NS)), 5, "the finished Job to be deleted")

    assert pods_of(api, "stitch") == []  # deleted with it
    assert fake_node.pods_created == {"stitch": 1}
    index, hostname = seen.read_text().split()
    assert index == "None" and hostname.startswith("stitch-")  # the pod's name


def test_a_suspended_job_starts_no_pod_until_resumed(api: JsonApi, fake_node: FakeNode) -> None:
    api.call("POST", jobs_path(NS), job("later", python("pass"), suspend=True))
    suspended = with_condition(api, "later", "Suspended")
    time.sleep(0.3)
    assert fake_node.pods_created == {} and "startTime" not in suspended["status"]

    api.call("PATCH", jobs_path(NS, "later"), {"spec": {"suspend": False}})

    done = with_condition(api, "later", "Complete")
    assert condition(done, "Suspended")["reason"] == "JobResumed"
    assert done["metadata"]["generation"] == 2  # the spec changed once
    assert fake_node.pods_created == {"later": 1}


# --- failures ------------------------------------------------------------------------

#: The operator's policy: exit code 1 (the user's error) fails the index at once.
FAIL_INDEX_ON_1 = {
    "rules": [
        {
            "action": "FailIndex",
            "onExitCodes": {"containerName": "main", "operator": "In", "values": [1]},
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]
}


def test_a_fail_index_rule_fails_the_index_without_retrying_it(
    api: JsonApi, fake_node: FakeNode
) -> None:
    command = python(
        "import os, sys; sys.exit(1 if os.environ['JOB_COMPLETION_INDEX'] == '1' else 0)"
    )
    manifest = job(
        "render",
        command,
        completions=3,
        parallelism=3,
        backoffLimitPerIndex=2,
        podFailurePolicy=FAIL_INDEX_ON_1,
    )
    api.call("POST", jobs_path(NS), manifest)

    failed = with_condition(api, "render", "Failed")

    status = failed["status"]
    assert (status["failedIndexes"], status["completedIndexes"]) == ("1", "0,2")
    assert (status["failed"], status["succeeded"]) == (1, 2)
    assert true_conditions(failed) == ["FailureTarget", "Failed"]
    assert condition(failed, "Failed")["reason"] == "FailedIndexes"
    assert fake_node.pods_created == {"render": 3}  # index 1 was not retried


def test_other_failures_are_retried_up_to_the_per_index_limit(
    api: JsonApi, fake_node: FakeNode
) -> None:
    fake_node.inject("fail", job="flaky", index=0, exit_code=3, attempts=1)
    fake_node.inject("fail", job="broken", index=0, exit_code=3)
    for name in ("flaky", "broken"):
        manifest = job(
            name,
            python("pass"),
            completions=2,
            backoffLimitPerIndex=1,
            podFailurePolicy=FAIL_INDEX_ON_1,
        )
        api.call("POST", jobs_path(NS), manifest)

    flaky = with_condition(api, "flaky", "Complete")
    broken = with_condition(api, "broken", "Failed")

    assert (flaky["status"]["failed"], flaky["status"]["failedIndexes"]) == (1, "")
    assert (broken["status"]["failed"], broken["status"]["failedIndexes"]) == (2, "0")
    assert broken["status"]["completedIndexes"] == "1"
    assert fake_node.pods_created == {"flaky": 3, "broken": 3}


def test_the_backoff_limit_counts_failures_and_a_failed_job_loses_its_running_pods(
    api: JsonApi, fake_node: FakeNode
) -> None:
    fake_node.inject("fail", index=0, exit_code=2)
    fake_node.inject("hang", index=1)
    api.call(
        "POST",
        jobs_path(NS),
        job("render", python("pass"), completions=2, parallelism=2, backoffLimit=1),
    )

    failed = with_condition(api, "render", "Failed")

    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    assert failed["status"]["failed"] == 2
    assert "active" not in failed["status"]
    assert [p["status"]["phase"] for p in pods_of(api, "render")] == ["Failed", "Failed"]
    assert fake_node.running_pods == []  # the hanging pod was deleted, its process killed
    assert fake_node.pods_created == {"render": 3}


def test_fail_job_and_ignore_rules(api: JsonApi, fake_node: FakeNode) -> None:
    policy = {
        "rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [5]}},
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [5, 6]}},
        ]
    }
    fake_node.inject("fail", job="ignored", exit_code=5, attempts=1)
    fake_node.inject("fail", job="fatal", exit_code=7)
    for name in ("ignored", "fatal"):
        api.call(
            "POST",
            jobs_path(NS),
            job(name, python("pass"), backoffLimit=0, podFailurePolicy=policy),
        )

    ignored = with_condition(api, "ignored", "Complete")
    fatal = with_condition(api, "fatal", "Failed")

    assert "failed" not in ignored["status"]  # an ignored failure counts for nothing
    assert fake_node.pods_created["ignored"] == 2
    pod = pods_of(api, "fatal")[0]["metadata"]["name"]
    assert condition(fatal, "Failed")["reason"] == "PodFailurePolicy"
    assert condition(fatal, "Failed")["message"] == (
        f"Container main for pod default/{pod} failed with exit code 7 "
        "matching FailJob rule at index 1"
    )


def test_an_oom_killed_container_says_so(api: JsonApi, fake_node: FakeNode) -> None:
    fake_node.inject("oom", labels={"app": "chalkline"})  # the Job's labels
    logs = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    api.call("POST", jobs_path(NS), job("render", python("pass"), backoffLimit=0, container=logs))

    failed = with_condition(api, "render", "Failed")

    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    pod = pods_of(api, "render")[0]
    assert pod["status"]["phase"] == "Failed"
    assert terminated(pod)["exitCode"] == 137
    assert terminated(pod)["reason"] == "OOMKilled"
    assert terminated(pod)["message"] == "allocating\n"


def test_a_failed_containers_output_is_its_message_with_fallback_to_logs(
    api: JsonApi, fake_node: FakeNode
) -> None:
    lines = [f"line {n:03d} " + "x" * 30 + "\n" for n in range(100)]  # 40 bytes each
    command = python(f"import sys; sys.stdout.write({''.join(lines)!r}); sys.exit(4)")
    logs = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    api.call("POST", jobs_path(NS), job("loud", command, backoffLimit=0, container=logs))
    api.call("POST", jobs_path(NS), job("quiet", command, backoffLimit=0))

    for name in ("loud", "quiet"):
        with_condition(api, name, "Failed")

    loud = terminated(pods_of(api, "loud")[0])
    assert (loud["exitCode"], loud["reason"]) == (4, "Error")
    assert loud["message"] == "".join(lines[20:])[-2048:]  # the last 80 lines, 2048 bytes
    assert "message" not in terminated(pods_of(api, "quiet")[0])  # policy File: no file, none


def test_an_active_deadline_fails_the_job_and_kills_its_pods(
    api: JsonApi, fake_node: FakeNode
) -> None:
    manifest = job("slow", python("import time; time.sleep(30)"), completions=2, parallelism=2)
    manifest["spec"]["activeDeadlineSeconds"] = 1
    api.call("POST", jobs_path(NS), manifest)

    failed = with_condition(api, "slow", "Failed")

    assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(failed, "Failed")["message"] == "Job was active longer than specified deadline"
    assert pods_of(api, "slow") == []
    assert fake_node.running_pods == []


def test_a_pods_own_deadline_and_a_missing_command_fail_the_pod(
    api: JsonApi, fake_node: FakeNode
) -> None:
    sleeper = job("sleeper", python("import time; time.sleep(30)"), backoffLimit=0)
    sleeper["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 1
    api.call("POST", jobs_path(NS), sleeper)
    api.call("POST", jobs_path(NS), job("missing", ["/no/such/program"], backoffLimit=0))

    for name in ("sleeper", "missing"):
        with_condition(api, name, "Failed")

    (slept,) = pods_of(api, "sleeper")
    assert (slept["status"]["phase"], slept["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    assert terminated(slept)["exitCode"] == 143  # SIGTERM, which ended it
    (missing,) = pods_of(api, "missing")
    assert (terminated(missing)["exitCode"], terminated(missing)["reason"]) == (128, "StartError")
    assert "/no/such/program" in terminated(missing)["message"]


# --- deletion ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["query", "body"])
def test_a_background_delete_takes_the_pods_and_their_processes(
    api: JsonApi, fake_node: FakeNode, tmp_path: Path, how: str
) -> None:
    # The processes ignore SIGTERM: only the SIGKILL after the grace ends them.
    command = python(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pid_file = os.path.join({str(tmp_path)!r}, 'pid' + os.environ['JOB_COMPLETION_INDEX'])
        open(pid_file, 'w').write(str(os.getpid()))
        time.sleep(30)
    """)
    api.call("POST", jobs_path(NS), job("render", command, completions=2, parallelism=2))
    running(api, "render", 2)
    wait_until(lambda: len(list(tmp_path.glob("pid*"))) == 2, 5, "the processes' pids")
    pids = [int(path.read_text()) for path in tmp_path.glob("pid*")]

    if how == "query":
        api.call("DELETE", jobs_path(NS, "render"), propagationPolicy="Background")
    else:
        api.call("DELETE", jobs_path(NS, "render"), {"propagationPolicy": "Background"})

    assert pods_of(api, "render") == []  # the garbage collector's part, at once
    wait_until(lambda: not fake_node.running_pods, 3, "the pods' processes to be killed")
    assert not any(alive(pid) for pid in pids)


def test_a_delete_without_a_policy_orphans_the_pods_which_run_on(
    api: JsonApi, fake_node: FakeNode
) -> None:
    api.call("POST", jobs_path(NS), job("render", python("import time; time.sleep(0.5)")))
    running(api, "render", 1)

    api.call("DELETE", jobs_path(NS, "render"))

    (pod,) = pods_of(api, "render")
    assert "ownerReferences" not in pod["metadata"]
    wait_until(
        lambda: pods_of(api, "render")[0]["status"]["phase"] == "Succeeded", 5, "the orphan to end"
    )
    assert fake_node.pods_created == {"render": 1}


def test_the_garbage_collector_spares_a_dependent_with_another_owner(api: JsonApi) -> None:
    owners = [
        api.call("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": n}})
        for n in ("a", "b")
    ]
    refs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
        }
        for o in owners
    ]
    for name, references in (("only-a", refs[:1]), ("both", refs)):
        body = {"metadata": {"name": name, "ownerReferences": references}}
        api.call("POST", "/api/v1/namespaces/default/configmaps", body)

    api.call("DELETE", "/api/v1/namespaces/default/configmaps/a")  # Background by default

    left = {c["metadata"]["name"]: c for c in api.items("/api/v1/namespaces/default/configmaps")}
    assert sorted(left) == ["b", "both"]
    assert left["both"]["metadata"]["ownerReferences"] == refs[1:]


def test_compress_writes_indexes_as_kubernetes_does() -> None:
    assert compress([4, 0, 1, 2, 7, 8]) == "0-2,4,7-8"
    assert compress([]) == ""
