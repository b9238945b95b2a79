"""The install, as ``kubectl kustomize`` builds it: manifests/base and every overlay.

The default install (manifests/base) runs the kubernetes backend: user scripts
run in Job pods, not in the operator's pod beside its service-account token.
Every kustomization is built with kubectl (these tests skip, saying so, where
kubectl is missing) and checked:

- every object is well-formed: it survives a round trip through the
  ``kubernetes`` client's model of its kind unchanged (a misspelt or misplaced
  field is dropped by the model, so the round trip shows it), and it is where
  it belongs (chalkline-system, or cluster-scoped);
- what refers to something names something in the same build: bindings,
  the service account, the ConfigMap, the claim;
- the operator's settings load with the operator's own loader, and the Jobs
  it would create (built by the operator's own wiring) mount the claim the
  build provides, in the Jobs' namespace, at the path the operator mounts it;
- RBAC: the (apiGroup, resource, verb) triples the kubernetes executor calls
  are read from its source with ``ast``, and the Role of the base, the
  ClusterRole of the per-namespace overlay, grant exactly those.
"""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from chalkline.core.layout import JobRef
from chalkline.executors import kubernetes as kubernetes_executor_module
from chalkline.executors.kubernetes_jobs import JobIntent, prepare_job
from chalkline.operator import wiring
from chalkline.operator.config import SETTINGS, OperatorConfig, load_config
from chalkline.storage import open_storage
from chalkline.storage.files import path_of
from tests.support.admission import DNS_SUBDOMAIN, configmap_violations, load_crd

Obj = dict[str, Any]
Triple = tuple[str, str, str]  # (apiGroup, resource, verb)

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
EXECUTOR = ROOT / "chalkline" / "executors" / "kubernetes.py"
NAMESPACE = "chalkline-system"
SERVICE_ACCOUNT = "chalkline-operator"
#: Every kustomization under manifests/, by its folder.
INSTALLS = ["base", "overlays/kind", "overlays/kubernetes-per-namespace", "overlays/local"]
#: Installs whose operator runs the kubernetes backend with a file:// root on a claim.
ON_A_CLAIM = ["base", "overlays/kind"]
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
#: Non-resource URLs the executor reads that every authenticated identity may
#: read (the default ClusterRole system:public-info-viewer): no rule needed.
PUBLIC_URLS = {"/version"}
#: HTTP method, and whether the path names one object -> the RBAC verb.
VERBS = {
    ("GET", True): "get",
    ("GET", False): "list",
    ("POST", False): "create",
    ("PUT", True): "update",
    ("PATCH", True): "patch",
    ("DELETE", True): "delete",
    ("DELETE", False): "deletecollection",
}


# --- Building -------------------------------------------------------------------


@functools.cache
def build(install: str) -> tuple[Obj, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomizations cannot be built")
    done = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / install)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl kustomize {install}: {done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def one(install: str, kind: str, name: str | None = None) -> Obj:
    [found] = [
        doc
        for doc in build(install)
        if doc["kind"] == kind and name in (None, doc["metadata"]["name"])
    ]
    return found


def of_kind(install: str, kind: str) -> list[Obj]:
    return [doc for doc in build(install) if doc["kind"] == kind]


def operator_pod(install: str) -> Obj:
    return dict(one(install, "Deployment", "chalkline-operator")["spec"]["template"]["spec"])


def operator_config(install: str) -> OperatorConfig:
    """The settings the operator of ``install`` starts with, read by its own loader."""
    [source] = operator_pod(install)["containers"][0]["envFrom"]
    data = one(install, "ConfigMap", source["configMapRef"]["name"])["data"]
    return load_config(None, {}, env=data)


def test_every_kustomization_under_manifests_is_tested() -> None:
    found = sorted(
        str(p.parent.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("kustomization.yaml")
    )
    assert found == sorted(INSTALLS)


# --- Every object, in every install -----------------------------------------------


@pytest.mark.parametrize("install", INSTALLS)
def test_every_object_survives_a_round_trip_through_its_kubernetes_model(install: str) -> None:
    with ApiClient() as api:
        for doc in build(install):
            assert doc["apiVersion"].rsplit("/", 1)[-1] == "v1", doc["kind"]
            # The client's (private) deserializer is the one its API calls use.
            model = api._ApiClient__deserialize(doc, f"V1{doc['kind']}")
            back = api.sanitize_for_serialization(model)
            assert back == doc, doc["kind"]


@pytest.mark.parametrize("install", INSTALLS)
def test_every_object_is_labelled_named_and_in_its_place(install: str) -> None:
    seen = set()
    for doc in build(install):
        meta = doc["metadata"]
        assert DNS_SUBDOMAIN.fullmatch(meta["name"]), meta["name"]
        assert meta["labels"]["app.kubernetes.io/part-of"] == "chalkline", meta["name"]
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta, meta["name"]
        else:
            assert meta["namespace"] == NAMESPACE, meta["name"]
        key = (doc["kind"], meta.get("namespace"), meta["name"])
        assert key not in seen, key
        seen.add(key)


@pytest.mark.parametrize("install", INSTALLS)
def test_the_crd_and_the_operators_cluster_role_are_the_same_in_every_install(
    install: str,
) -> None:
    crd = one(install, "CustomResourceDefinition")
    labels = crd["metadata"].pop("labels")
    assert labels["app.kubernetes.io/name"] == "chalkline"
    assert crd == load_crd()
    [role] = [
        doc
        for doc in yaml.safe_load_all((MANIFESTS / "base" / "rbac.yaml").read_text())
        if doc["kind"] == "ClusterRole"
    ]
    assert one(install, "ClusterRole", "chalkline-operator")["rules"] == role["rules"]


@pytest.mark.parametrize("install", INSTALLS)
def test_references_name_objects_of_the_same_build(install: str) -> None:
    names = {
        (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
        for doc in build(install)
    }
    for binding in of_kind(install, "RoleBinding") + of_kind(install, "ClusterRoleBinding"):
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], namespace, ref["name"]) in names, binding["metadata"]["name"]
        for subject in binding["subjects"]:
            assert (subject["kind"], subject["namespace"], subject["name"]) in names
    pod = operator_pod(install)
    assert ("ServiceAccount", NAMESPACE, pod["serviceAccountName"]) in names
    [source] = pod["containers"][0]["envFrom"]
    assert ("ConfigMap", NAMESPACE, source["configMapRef"]["name"]) in names
    volumes = {v["name"]: v for v in pod["volumes"]}
    for volume in volumes.values():
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert ("PersistentVolumeClaim", NAMESPACE, claim) in names
    for container in pod["containers"]:
        assert {m["name"] for m in container["volumeMounts"]} <= set(volumes)
    claims = [doc["metadata"]["name"] for doc in of_kind(install, "PersistentVolumeClaim")]
    mounted = [
        v["persistentVolumeClaim"]["claimName"]
        for v in volumes.values()
        if "persistentVolumeClaim" in v
    ]
    assert sorted(claims) == sorted(mounted), "a claim nobody mounts"


@pytest.mark.parametrize("install", INSTALLS)
def test_the_operator_runs_once_non_root_with_a_probe_and_settings_it_can_load(
    install: str,
) -> None:
    deployment = one(install, "Deployment", "chalkline-operator")
    pod = operator_pod(install)
    [container] = pod["containers"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container["args"] == ["operator", "--all-namespaces"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
    [source] = container["envFrom"]
    configmap = one(install, "ConfigMap", source["configMapRef"]["name"])
    assert configmap_violations(configmap) == []
    assert set(configmap["data"]) <= {setting.env for setting in SETTINGS}
    operator_config(install)  # raises InvalidSpec for a value the operator refuses


# --- Which backend where ----------------------------------------------------------


def test_the_default_install_runs_user_scripts_in_jobs_not_in_the_operator() -> None:
    for install in ("base", "overlays/kind", "overlays/kubernetes-per-namespace"):
        config = operator_config(install)
        assert config.backend == "kubernetes", install
        assert config.kubernetes_image, install


def test_the_local_overlay_renders_in_the_operator_says_why_that_is_risky_and_creates_no_jobs() -> (
    None
):
    config = operator_config("overlays/local")
    assert config.backend == "local"
    assert path_of(config.storage) in {
        Path(m["mountPath"])
        for m in operator_pod("overlays/local")["containers"][0]["volumeMounts"]
    }
    assert not of_kind("overlays/local", "PersistentVolumeClaim")
    assert not of_kind("overlays/local", "Role")
    lines = (MANIFESTS / "overlays" / "local" / "kustomization.yaml").read_text().splitlines()
    assert lines[0].startswith("# RISK: ")
    comment = " ".join(line.lstrip("#").strip() for line in lines if line.startswith("#"))
    for words in ("service-account token", "ConfigMap", "RenderJob", "single-tenant development"):
        assert words in comment, words


def test_the_operator_that_no_longer_renders_asks_for_less_than_the_local_one() -> None:
    def memory_limit(install: str) -> str:
        return str(operator_pod(install)["containers"][0]["resources"]["limits"]["memory"])

    assert (memory_limit("base"), memory_limit("overlays/local")) == ("1Gi", "4Gi")


@pytest.mark.parametrize("install", ["base", "overlays/kubernetes-per-namespace"])
def test_the_job_images_are_named_after_the_operator_image(install: str) -> None:
    repository, tag = operator_pod(install)["containers"][0]["image"].rsplit(":", 1)
    config = operator_config(install)
    assert config.kubernetes_image == f"{repository}-worker:{tag}"
    assert config.kubernetes_stitch_image == f"{repository}-stitcher:{tag}"
    for image, dockerfile in (("worker", "worker"), ("stitcher", "stitcher")):
        header = (ROOT / "docker" / f"{dockerfile}.Dockerfile").read_text()
        assert f"/chalkline-{image}:{tag} " in header, dockerfile


# --- The claim the Jobs share with the operator -----------------------------------


def jobs_of(config: OperatorConfig, monkeypatch: pytest.MonkeyPatch) -> list[Obj]:
    """A render Job and a stitch Job as the operator's wiring would create them."""
    monkeypatch.setattr(kubernetes_executor_module, "load_api_client", lambda: object())
    executor = wiring.kubernetes_executor(config, open_storage(config.storage))
    assert isinstance(executor, kubernetes_executor_module.KubernetesExecutor)
    jobs = executor.jobs
    owner = JobRef("team-a", "hello", "uid-1", 1)
    plan = f"{config.storage}/jobs/plan.json"
    return [
        prepare_job(jobs, JobIntent(role, "key", plan, owner), (1, 33))
        for role in ("render", "stitch")
    ]


@pytest.mark.parametrize("install", ON_A_CLAIM)
def test_the_jobs_mount_the_operators_claim_at_the_storage_path(
    install: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = operator_config(install)
    assert config.storage.startswith("file://")
    claim = one(install, "PersistentVolumeClaim")
    assert config.kubernetes_storage_claim == claim["metadata"]["name"] == "chalkline-storage"
    # A claim is mounted only in its own namespace: the Jobs run there.
    assert config.kubernetes_namespace == claim["metadata"]["namespace"] == NAMESPACE
    pod = operator_pod(install)
    [operator_volume] = [
        v["name"]
        for v in pod["volumes"]
        if v.get("persistentVolumeClaim", {}).get("claimName") == config.kubernetes_storage_claim
    ]
    [operator_mount] = [
        m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == operator_volume
    ]
    assert Path(operator_mount) == path_of(config.storage) == Path("/var/lib/chalkline")
    for job in jobs_of(config, monkeypatch):
        assert job["metadata"]["namespace"] == claim["metadata"]["namespace"]
        spec = job["spec"]["template"]["spec"]
        [volume] = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        [mount] = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["mountPath"] == operator_mount


def test_the_claim_is_read_write_many_except_on_a_single_node_kind() -> None:
    assert one("base", "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    kind = one("overlays/kind", "PersistentVolumeClaim")["spec"]["accessModes"]
    assert kind == ["ReadWriteOnce"]


def test_the_per_namespace_overlay_runs_jobs_beside_each_renderjob_on_gs_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install = "overlays/kubernetes-per-namespace"
    config = operator_config(install)
    assert config.storage.startswith("gs://")
    assert config.kubernetes_namespace is None
    assert config.kubernetes_storage_claim is None
    assert not of_kind(install, "PersistentVolumeClaim")
    mounts = {m["mountPath"] for m in operator_pod(install)["containers"][0]["volumeMounts"]}
    assert mounts == {"/tmp"}


# --- RBAC: what the executor calls, and no more -----------------------------------


def request_calls(tree: ast.Module) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_request"
    ]


def path_template(node: ast.expr, helpers: dict[str, ast.FunctionDef]) -> str:
    """The path an expression builds, each interpolated value as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
        returns = [n for n in ast.walk(helpers[node.func.id]) if isinstance(n, ast.Return)]
        assert len(returns) == 1, f"{node.func.id} returns one path"
        assert returns[0].value is not None
        return path_template(returns[0].value, helpers)
    raise AssertionError(f"line {node.lineno}: cannot read the API path {ast.unparse(node)}")


def rbac_triple(method: str, path: str) -> Triple | None:
    """``("GET", "/apis/batch/v1/namespaces/{}/jobs/{}")`` -> ``("batch", "jobs", "get")``;
    None for a non-resource URL."""
    parts = path.split("?")[0].strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # the namespace of a namespaced resource
    assert rest and all(p == "{}" for p in rest[1:2]), f"{path}: resource, then a name"
    resource = "/".join([rest[0], *rest[2:3]])  # a subresource: jobs/status
    verb = VERBS.get((method, len(rest) > 1))
    assert verb is not None, f"{method} {path}: no RBAC verb known for it"
    return group, resource, verb


def executor_calls() -> list[tuple[str, str]]:
    """(METHOD, path) of every ``self._request(...)`` in the kubernetes executor."""
    tree = ast.parse(EXECUTOR.read_text())
    helpers = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    found = []
    for call in request_calls(tree):
        assert len(call.args) >= 2, f"line {call.lineno}: method and path are positional"
        method = call.args[0]
        assert isinstance(method, ast.Constant) and isinstance(method.value, str), call.lineno
        found.append((method.value, path_template(call.args[1], helpers)))
    return found


def executor_needs() -> set[Triple]:
    needs = set()
    for method, path in executor_calls():
        triple = rbac_triple(method, path)
        if triple is None:
            assert path in PUBLIC_URLS, f"{method} {path}: a non-resource URL needs a rule"
        else:
            needs.add(triple)
    return needs


def granted(rules: list[Obj]) -> set[Triple]:
    found = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), rule
                    found.add((group, resource, verb))
    return found


def test_the_executor_reaches_the_api_only_through_request_and_every_call_is_read() -> None:
    source = EXECUTOR.read_text()
    tree = ast.parse(source)
    [request] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "_request"
    ]
    inside = {id(node) for node in ast.walk(request)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"call_api", "param_serialize"}:
            assert id(node) in inside, f"line {node.lineno}: an API call outside _request"
        if isinstance(node, ast.Attribute) and re.fullmatch(r"\w+Api", node.attr):
            raise AssertionError(
                f"line {node.lineno}: a typed client ({node.attr}) bypasses _request"
            )
    # A watch is a GET with a parameter: this test would read it as list.
    assert "watch" not in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert len(executor_calls()) == source.count("._request(") >= 5
    assert ("batch", "jobs", "create") in executor_needs()


def test_the_base_role_grants_exactly_what_the_executor_calls_in_the_jobs_namespace() -> None:
    config = operator_config("base")
    role = one("base", "Role", "chalkline-jobs")
    assert role["metadata"]["namespace"] == config.kubernetes_namespace
    assert granted(role["rules"]) == executor_needs()
    binding = one("base", "RoleBinding", "chalkline-jobs")
    assert binding["metadata"]["namespace"] == config.kubernetes_namespace
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "chalkline-jobs",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]


def test_the_per_namespace_overlay_grants_the_same_in_every_namespace_and_no_role() -> None:
    install = "overlays/kubernetes-per-namespace"
    role = one(install, "ClusterRole", "chalkline-jobs")
    assert granted(role["rules"]) == executor_needs()
    assert granted(role["rules"]) == granted(one("base", "Role", "chalkline-jobs")["rules"])
    binding = one(install, "ClusterRoleBinding", "chalkline-jobs")
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["roleRef"]["name"] == "chalkline-jobs"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]
    assert not of_kind(install, "Role") and not of_kind(install, "RoleBinding")


@pytest.mark.parametrize("install", INSTALLS)
def test_job_rights_exist_only_where_the_kubernetes_backend_creates_jobs(install: str) -> None:
    """Outside the chalkline-jobs rules, no install grants a Job or pod right."""
    job_rights = {(group, resource) for group, resource, _ in executor_needs()}
    for kind in ("Role", "ClusterRole"):
        for role in of_kind(install, kind):
            if role["metadata"]["name"] == "chalkline-jobs":
                assert operator_config(install).backend == "kubernetes"
                continue
            held = {(group, resource) for group, resource, _ in granted(role["rules"])}
            assert not held & job_rights, role["metadata"]["name"]


def test_the_install_docs_name_every_install() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "## Install with the kubernetes backend" in operations
    for install in INSTALLS:
        assert f"manifests/{install}" in operations, install
