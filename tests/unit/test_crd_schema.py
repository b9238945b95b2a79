"""The RenderJob CRD admits what chalkline accepts and refuses what it refuses.

No cluster is needed: ``AdmissionChecks`` (tests/support/admission.py) does what a
Kubernetes API server does with a RenderJob, in its order: fill in the
schema's defaults, reject unknown fields, check types, enums, bounds and
patterns, list uniqueness, and evaluate the CEL rules. The schema itself is
checked for the rules an API server applies before it accepts a CRD (a
structural schema), plus ours: closed objects and bounded sizes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from chalkline.core import spec as spec_py
from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES
from chalkline.core.scenes import discover_scenes, select_scenes
from tests.support.admission import (
    AdmissionChecks,
    Obj,
    Rejected,
    cel_rules,
    configmap_violations,
    json_path,
    kubectl_wait_condition_met,
    load_crd,
    schema_at,
    structural_violations,
    version_schema,
    version_schema_columns,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "manifests" / "examples"
BASE = ROOT / "manifests" / "base"

SCRIPT = "from manim import *\n\nclass Hello(Scene):\n    pass\n"
INLINE = {"source": {"inline": SCRIPT}}
REEL = {"clips": ["gs://reels/1.mp4", "gs://reels/2.mp4"]}


def renderjob(spec: Obj, status: Obj | None = None, generation: int = 1) -> Obj:
    """A RenderJob object as a client would send it."""
    obj: Obj = {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "job", "namespace": "default", "generation": generation},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def with_spec(base: Obj, **changes: Any) -> Obj:
    """``base`` with some top-level spec fields set."""
    return {**copy.deepcopy(base), **changes}


# --- The resource -----------------------------------------------------------


def test_renderjobs_are_namespaced_chalkline_dev_objects_with_a_status_subresource() -> None:
    crd = load_crd()
    assert crd["metadata"]["name"] == "renderjobs.chalkline.dev"
    assert crd["spec"]["group"] == "chalkline.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {
        "kind": "RenderJob",
        "listKind": "RenderJobList",
        "plural": "renderjobs",
        "singular": "renderjob",
        "shortNames": ["rj"],
        "categories": ["chalkline"],
    }
    [version] = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_the_schema_is_structural_closed_and_bounded() -> None:
    assert structural_violations(version_schema()) == []


def test_every_cel_rule_compiles_and_explains_itself() -> None:
    rules = [rule for _, rule in cel_rules(version_schema())]
    assert len(rules) == 2
    for rule in rules:
        celpy.Environment().compile(rule["rule"])
        assert rule["message"].startswith("spec")


# --- The examples -----------------------------------------------------------


def example_docs() -> list[tuple[str, Obj]]:
    """Every manifest under manifests/examples/, one document per file."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert len(docs) == 1, f"{path.name}: one document per example"
        found.append((path.name, docs[0]))
    return found


def renderjob_examples() -> list[tuple[str, Obj]]:
    return [(name, doc) for name, doc in example_docs() if doc["kind"] == "RenderJob"]


def configmap_examples() -> list[tuple[str, Obj]]:
    return [(name, doc) for name, doc in example_docs() if doc["kind"] == "ConfigMap"]


EXAMPLE_NAMES = [name for name, _ in renderjob_examples()]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_is_admitted_by_the_api_server(name: str) -> None:
    AdmissionChecks().admit(dict(renderjob_examples())[name])


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_means_the_same_to_chalkline_before_and_after_defaulting(name: str) -> None:
    sent = dict(renderjob_examples())[name]
    stored = AdmissionChecks().admit(sent)
    assert spec_py.parse_spec(sent["spec"]) == spec_py.parse_spec(stored["spec"])


def test_every_example_says_what_it_shows() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert path.read_text().startswith("# "), f"{path.name} opens with a comment"


def test_the_examples_show_every_source_stitch_only_and_every_knob() -> None:
    specs = [doc["spec"] for _, doc in renderjob_examples()]
    sources = {key for spec in specs for key in spec.get("source", {})}
    assert sources == {"inline", "configMapKeyRef", "uri"}
    assert any("clips" in spec and spec.get("stitch") == {"tier": "auto"} for spec in specs)
    knobs = {"backend", "parallelism", "retries", "timeoutSeconds", "stitch"}
    assert any(knobs <= set(spec) and spec["backend"] == "cloudrun" for spec in specs)


def test_the_configmap_example_is_a_valid_configmap_holding_the_referenced_script() -> None:
    configmaps = {doc["metadata"]["name"]: doc for _, doc in configmap_examples()}
    for configmap in configmaps.values():
        assert configmap_violations(configmap) == []
    refs = [
        doc["spec"]
        for _, doc in renderjob_examples()
        if "configMapKeyRef" in doc["spec"].get("source", {})
    ]
    assert refs
    for spec in refs:
        ref = spec["source"]["configMapKeyRef"]
        script = configmaps[ref["name"]]["data"][ref["key"]]
        select_scenes(discover_scenes(script, ref["key"]), spec.get("scenes", []))


def test_inline_examples_name_scenes_the_script_defines() -> None:
    for name, doc in renderjob_examples():
        if "inline" in doc["spec"].get("source", {}):
            found = discover_scenes(doc["spec"]["source"]["inline"], name)
            assert select_scenes(found, doc["spec"].get("scenes", []))


# --- Defaults ---------------------------------------------------------------


def test_the_api_server_fills_in_the_defaults_chalkline_assumes() -> None:
    stored = AdmissionChecks().admit(renderjob(INLINE))["spec"]
    assert stored == {
        **INLINE,
        "quality": "low",
        "parallelism": 10,
        "retries": 0,
        "stitch": {"tier": "auto"},
    }
    assert spec_py.parse_spec(stored) == spec_py.parse_spec(INLINE)


def test_backend_output_and_timeout_have_no_default_so_the_operator_config_decides() -> None:
    stored = AdmissionChecks().admit(renderjob(INLINE))["spec"]
    assert not {"backend", "output", "timeoutSeconds", "scenes"} & set(stored)


# --- What both refuse ---------------------------------------------------------

TOO_LONG_URI = "gs://bucket/" + "a" * 2040 + ".mp4"

REFUSED = [
    pytest.param(with_spec(INLINE, colour="red"), id="unknown field in spec"),
    pytest.param({"source": {"inline": SCRIPT, "language": "py"}}, id="unknown field in source"),
    pytest.param(
        {"source": {"configMapKeyRef": {"name": "s", "key": "a.py", "namespace": "other"}}},
        id="configMapKeyRef in another namespace",
    ),
    pytest.param(with_spec(INLINE, stitch={"tier": "auto", "cpu": 4}), id="unknown stitch field"),
    pytest.param({**INLINE, **REEL}, id="both source and clips"),
    pytest.param({"quality": "low"}, id="neither source nor clips"),
    pytest.param({"source": {"inline": SCRIPT, "uri": "file:///s.py"}}, id="two sources"),
    pytest.param({"source": {}}, id="empty source"),
    pytest.param({"source": {"inline": ""}}, id="empty inline script"),
    pytest.param({"source": {"inline": " \n\t"}}, id="blank inline script"),
    pytest.param(
        {"source": {"inline": "#" * (spec_py.MAX_INLINE_BYTES + 1)}}, id="inline over 256 KiB"
    ),
    pytest.param({"source": {"configMapKeyRef": {"name": "s"}}}, id="configMapKeyRef without key"),
    pytest.param({"source": {"uri": "https://example.com/a.py"}}, id="https source uri"),
    pytest.param({"source": {"uri": "s3://bucket/a.py"}}, id="s3 source uri"),
    pytest.param({"source": {"uri": "file://relative/a.py"}}, id="relative file uri"),
    pytest.param({"clips": []}, id="empty clips"),
    pytest.param({"clips": ["gs://reels/notes.txt"]}, id="clip that is not a video"),
    pytest.param({"clips": ["gs://B/1.mp4"]}, id="clip in an invalid bucket"),
    pytest.param(
        {"clips": [f"gs://reels/{i}.mp4" for i in range(spec_py.MAX_CLIPS + 1)]},
        id="too many clips",
    ),
    pytest.param(with_spec(INLINE, output="gs://videos/intro.gif"), id="output not a video"),
    pytest.param(with_spec(INLINE, scenes=["Not-A-Class"]), id="scene not a class name"),
    pytest.param(
        with_spec(INLINE, scenes=[f"S{i}" for i in range(spec_py.MAX_SCENES + 1)]),
        id="too many scenes",
    ),
    pytest.param(with_spec(INLINE, quality="1080p"), id="bad quality"),
    pytest.param(with_spec(INLINE, backend="gke"), id="unknown backend"),
    pytest.param(with_spec(INLINE, parallelism=0), id="parallelism 0"),
    pytest.param(with_spec(INLINE, parallelism=1001), id="parallelism 1001"),
    pytest.param(with_spec(INLINE, parallelism="10"), id="parallelism as text"),
    pytest.param(with_spec(INLINE, parallelism=2.5), id="parallelism fractional"),
    pytest.param(with_spec(INLINE, retries=-1), id="retries -1"),
    pytest.param(with_spec(INLINE, retries=11), id="retries 11"),
    pytest.param(with_spec(INLINE, timeoutSeconds=0), id="timeout 0"),
    pytest.param(with_spec(INLINE, timeoutSeconds=86_401), id="timeout over a day"),
    pytest.param(with_spec(INLINE, stitch={"tier": "huge"}), id="unknown stitch tier"),
    pytest.param(with_spec(INLINE, stitch="large"), id="stitch not an object"),
]

#: Limits that are easy to miss: the API server and spec.py both enforce them.
REFUSED_LIMITS = [
    (
        {"source": {"configMapKeyRef": {"name": "Scripts_V2", "key": "a.py"}}},
        "configMapKeyRef.name must be a DNS subdomain",
    ),
    (
        {"source": {"configMapKeyRef": {"name": "s", "key": "my script.py"}}},
        "configMapKeyRef.key uses ConfigMap key characters",
    ),
    ({"clips": [TOO_LONG_URI]}, "URIs are at most 2048 characters"),
    (with_spec(INLINE, scenes=["S" * 254]), "scene names are at most 253 characters"),
    (
        {"source": {"uri": "file:///a.py\n"}},
        "a trailing newline is not part of a URI",
    ),
    (
        with_spec(INLINE, scenes=["Hello", "Hello"]),
        "a scene named twice",
    ),
]


@pytest.mark.parametrize(
    "spec", REFUSED + [pytest.param(spec, id=why) for spec, why in REFUSED_LIMITS]
)
def test_the_api_server_refuses(spec: Obj) -> None:
    with pytest.raises(Rejected):
        AdmissionChecks().admit(renderjob(spec))


@pytest.mark.parametrize(
    "spec", REFUSED + [pytest.param(spec, id=why) for spec, why in REFUSED_LIMITS]
)
def test_chalkline_refuses_what_the_api_server_refuses(spec: Obj) -> None:
    with pytest.raises(InvalidSpec):
        spec_py.parse_spec(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**INLINE, **REEL}, "spec needs exactly one of source (a Manim script) and clips"),
        ({"quality": "low"}, "spec needs exactly one of source (a Manim script) and clips"),
        (
            {"source": {"inline": SCRIPT, "uri": "file:///s.py"}},
            "spec.source needs exactly one of inline, configMapKeyRef and uri",
        ),
    ],
)
def test_the_api_server_says_in_words_which_fields_exclude_each_other(
    spec: Obj, message: str
) -> None:
    with pytest.raises(Rejected) as refused:
        AdmissionChecks().admit(renderjob(spec))
    assert any(message in error for error in refused.value.errors)


def test_exclusive_fields_are_enforced_by_oneof_alone_on_servers_without_cel() -> None:
    server = AdmissionChecks(cel=False)
    spec: Obj
    for spec in ({**INLINE, **REEL}, {"quality": "low"}, {"source": {}}):
        with pytest.raises(Rejected, match="oneOf"):
            server.admit(renderjob(spec))


def test_a_script_over_256_KiB_of_utf8_passes_the_api_server_but_not_the_operator() -> None:
    # maxLength counts characters; only chalkline can count the bytes.
    spec = {"source": {"inline": "é" * (spec_py.MAX_INLINE_BYTES // 2 + 1)}}
    AdmissionChecks().admit(renderjob(spec))
    with pytest.raises(InvalidSpec, match="larger than 256 KiB"):
        spec_py.parse_spec(spec)


def test_the_crd_and_spec_py_share_enums_bounds_patterns_and_defaults() -> None:
    spec = version_schema()["properties"]["spec"]["properties"]
    source = spec["source"]["properties"]
    assert spec["quality"]["enum"] == list(QUALITIES)
    assert spec["backend"]["enum"] == list(spec_py.BACKENDS)
    assert spec["stitch"]["properties"]["tier"]["enum"] == list(spec_py.TIERS)
    assert source["uri"]["pattern"] == spec_py.URI_PATTERN.pattern
    assert spec["output"]["pattern"] == spec_py.VIDEO_URI_PATTERN.pattern
    assert spec["clips"]["items"]["pattern"] == spec_py.VIDEO_URI_PATTERN.pattern
    assert spec["scenes"]["items"]["pattern"] == spec_py.SCENE_NAME.pattern
    assert source["inline"]["maxLength"] == spec_py.MAX_INLINE_BYTES
    assert spec["clips"]["maxItems"] == spec_py.MAX_CLIPS
    assert spec["scenes"]["maxItems"] == spec_py.MAX_SCENES
    assert (spec["parallelism"]["minimum"], spec["parallelism"]["maximum"]) == (
        1,
        spec_py.MAX_PARALLELISM,
    )
    assert (spec["retries"]["minimum"], spec["retries"]["maximum"]) == (0, spec_py.MAX_RETRIES)
    assert spec["timeoutSeconds"]["maximum"] == spec_py.MAX_TIMEOUT_SECONDS
    parsed = spec_py.parse_spec(INLINE)
    assert (spec["quality"]["default"], spec["parallelism"]["default"]) == (
        parsed.quality,
        parsed.parallelism,
    )
    assert spec["retries"]["default"] == parsed.retries
    assert spec["stitch"]["properties"]["tier"]["default"] == parsed.stitch_tier


# --- Status -----------------------------------------------------------------

SUCCEEDED: Obj = {
    "observedGeneration": 2,
    "conditions": [
        {
            "type": "Succeeded",
            "status": "True",
            "reason": "Stitched",
            "message": "video ready at gs://videos/intro.mp4 (12.4 s)",
            "lastTransitionTime": "2025-01-01T12:00:41Z",
            "observedGeneration": 2,
        }
    ],
    "phase": "Succeeded",
    "progress": "3/3",
    "tasks": [
        {
            "index": 0,
            "scene": "Intro",
            "state": "Succeeded",
            "clip": "gs://videos/.chalkline/intro/0.mp4",
            "seconds": 4.0,
            "attempts": 1,
        },
        {
            "index": 1,
            "scene": "Proof",
            "state": "Succeeded",
            "clip": "gs://videos/.chalkline/intro/1.mp4",
            "seconds": 12.5,
            "attempts": 2,
            "message": "attempt 1: worker was evicted",
        },
        {"index": 2, "scene": "Title", "state": "Succeeded", "seconds": 0.3, "empty": True},
    ],
    "stitch": {"tier": "small", "cpu": "1", "memory": "2Gi", "mode": "copy", "timeoutSeconds": 600},
    "videoUri": "gs://videos/intro.mp4",
    "videoUrl": "https://storage.googleapis.com/videos/intro.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Expires=3600&X-Goog-Signature=0a1b",
    "videoUrlExpires": "2025-01-01T13:00:41Z",
    "startTime": "2025-01-01T12:00:00Z",
    "completionTime": "2025-01-01T12:00:41Z",
    "estimatedCost": "0.0123",
    "cost": {"cpuSeconds": 61.4, "gibSeconds": 122.8, "usd": "0.001781"},
    "execution": {
        "generation": 2,
        "script": "3f2a9c0d1e4b",
        "render": "local/intro-g2-a0",
        "stitch": "local/intro-g2-stitch-0",
        "attempt": 1,
        "lost": 0,
        "stitchRestarts": 0,
    },
}


def finished(**changes: Any) -> Obj:
    """The status of a job that succeeded, with some fields changed."""
    return {**copy.deepcopy(SUCCEEDED), **changes}


def test_the_status_of_a_finished_job_is_admitted() -> None:
    AdmissionChecks().admit(renderjob(INLINE, finished(), generation=2))


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(finished(workers=3), id="unknown status field"),
        pytest.param(finished(phase="Done"), id="unknown phase"),
        pytest.param(finished(progress="two of five"), id="progress not N/M"),
        pytest.param(finished(estimatedCost="$0.01"), id="cost with a currency sign"),
        pytest.param(
            finished(cost={"cpuSeconds": 1, "gibSeconds": 2, "usd": 0.1}), id="usd not a string"
        ),
        pytest.param(
            finished(cost={"cpuSeconds": -1, "gibSeconds": 2, "usd": "0.1"}),
            id="negative cpu seconds",
        ),
        pytest.param(finished(cost={"cpuSeconds": 1, "usd": "0.1"}), id="cost without gibSeconds"),
        pytest.param(
            finished(cost={"cpuSeconds": 1, "gibSeconds": 2, "usd": "0.1", "eur": "0.09"}),
            id="unknown cost field",
        ),
        pytest.param(finished(videoUrl="gs://videos/intro.mp4"), id="video URL not HTTP"),
        pytest.param(finished(videoUrlExpires="in an hour"), id="URL expiry not RFC 3339"),
        pytest.param(finished(startTime="yesterday"), id="time not RFC 3339"),
        pytest.param(finished(stitch={"tier": "Small"}), id="tier not a tier name"),
        pytest.param(finished(execution={"render": "x", "pid": 7}), id="unknown execution field"),
        pytest.param(finished(tasks=[{"index": 0, "state": "Skipped"}]), id="unknown task state"),
        pytest.param(
            finished(tasks=[{"index": 0, "state": "Running", "seconds": -1}]), id="negative seconds"
        ),
        pytest.param(
            finished(conditions=[{**SUCCEEDED["conditions"][0], "status": "Yes"}]),
            id="condition status not True, False or Unknown",
        ),
        pytest.param(
            finished(conditions=[{**SUCCEEDED["conditions"][0], "reason": "render failed"}]),
            id="condition reason not CamelCase",
        ),
        pytest.param(
            finished(conditions=[SUCCEEDED["conditions"][0], SUCCEEDED["conditions"][0]]),
            id="two conditions of one type",
        ),
    ],
)
def test_the_status_is_closed_and_checked_too(status: Obj) -> None:
    with pytest.raises(Rejected):
        AdmissionChecks().admit(renderjob(INLINE, status, generation=2))


def test_conditions_follow_the_api_conventions_so_kubectl_wait_works() -> None:
    conditions = version_schema()["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert {"type", "status", "reason", "message", "lastTransitionTime"} <= set(item["required"])
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"


def test_kubectl_wait_for_succeeded_is_met_only_by_a_current_true_condition() -> None:
    job = renderjob(INLINE, finished(), generation=2)
    assert kubectl_wait_condition_met(job, "Succeeded")
    working = [{**SUCCEEDED["conditions"][0], "status": "Unknown", "reason": "Rendering"}]
    job["status"] = finished(conditions=working)
    assert not kubectl_wait_condition_met(job, "Succeeded")
    edited = renderjob(INLINE, finished(), generation=3)  # the spec changed since
    assert not kubectl_wait_condition_met(edited, "Succeeded")


def test_kubectl_get_shows_phase_progress_tier_video_and_age_and_wide_adds_the_message() -> None:
    columns = version_schema_columns()
    assert [c["name"] for c in columns] == ["Phase", "Progress", "Tier", "Video", "Age", "Message"]
    assert [c.get("priority", 0) for c in columns] == [0, 0, 0, 0, 0, 1]
    assert next(c for c in columns if c["name"] == "Age")["type"] == "date"
    job = renderjob(INLINE, finished(), generation=2)
    shown = {c["name"]: json_path(job, c["jsonPath"]) for c in columns if c["name"] != "Age"}
    assert shown == {
        "Phase": "Succeeded",
        "Progress": "3/3",
        "Tier": "small",
        "Video": "gs://videos/intro.mp4",
        "Message": "video ready at gs://videos/intro.mp4 (12.4 s)",
    }


def test_printer_columns_point_at_declared_fields() -> None:
    for column in version_schema_columns():
        node = schema_at(version_schema(), column["jsonPath"])
        if node is not None:  # metadata is the API server's own
            assert node["type"] == "string", column["name"]


# --- The kustomize base ---------------------------------------------------------


def test_the_kustomize_base_lists_files_that_exist_and_includes_the_crd() -> None:
    for folder in (BASE, ROOT / "crds"):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            assert (folder / resource).exists(), f"{folder.name}: {resource}"
    crds = yaml.safe_load((ROOT / "crds" / "kustomization.yaml").read_text())
    assert crds["resources"] == ["renderjob.yaml"]
    assert "../../crds" in yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]


def test_the_operator_may_only_read_watch_patch_and_post_events() -> None:
    [role] = [doc for doc in base_docs("rbac.yaml") if doc["kind"] == "ClusterRole"]
    verbs = {
        f"{group}/{resource}": set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert verbs == {
        "chalkline.dev/renderjobs": {"get", "list", "watch", "patch"},
        "chalkline.dev/renderjobs/status": {"patch"},
        "/configmaps": {"get"},
        "/events": {"create"},
        "apiextensions.k8s.io/customresourcedefinitions": {"list", "watch"},
        "/namespaces": {"list", "watch"},
    }


def test_the_operator_runs_once_as_non_root_with_a_liveness_probe() -> None:
    [deployment] = base_docs("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container["args"] == ["operator", "--all-namespaces"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080} in container["ports"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/chalkline"} <= mounts


def base_docs(name: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]


@pytest.mark.parametrize("backend", spec_py.BACKENDS)
def test_every_backend_the_crd_allows_is_read_as_named(backend: str) -> None:
    crd_backends = version_schema()["properties"]["spec"]["properties"]["backend"]["enum"]
    assert backend in crd_backends and len(crd_backends) == len(spec_py.BACKENDS)
    assert spec_py.parse_spec(with_spec(INLINE, backend=backend)).backend == backend
