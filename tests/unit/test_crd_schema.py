"""The RenderJob CRD admits what chalkline accepts and refuses what it refuses.

No cluster is needed: ``ApiServer`` below does what a Kubernetes API server
does with a RenderJob, in its order: fill in the schema's defaults, reject
unknown fields (``kubectl`` asks for ``fieldValidation=Strict``), check types,
enums, bounds and patterns (with Go's ``$``, which never matches before a
final newline), list uniqueness (``x-kubernetes-list-type``), and evaluate the
CEL rules (``x-kubernetes-validations``) with cel-python. The schema itself
is checked for the rules an API server applies before it accepts a CRD
(a structural schema), plus ours: closed objects and bounded sizes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators

from chalkline.core import spec as spec_py
from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES
from chalkline.core.scenes import discover_scenes, select_scenes

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "renderjob.yaml"
EXAMPLES = ROOT / "manifests" / "examples"
BASE = ROOT / "manifests" / "base"

SCRIPT = "from manim import *\n\nclass Hello(Scene):\n    pass\n"
INLINE = {"source": {"inline": SCRIPT}}
REEL = {"clips": ["gs://reels/1.mp4", "gs://reels/2.mp4"]}

Obj = dict[str, Any]


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
    ApiServer().admit(dict(renderjob_examples())[name])


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_means_the_same_to_chalkline_before_and_after_defaulting(name: str) -> None:
    sent = dict(renderjob_examples())[name]
    stored = ApiServer().admit(sent)
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
    stored = ApiServer().admit(renderjob(INLINE))["spec"]
    assert stored == {
        **INLINE,
        "quality": "low",
        "parallelism": 10,
        "retries": 0,
        "stitch": {"tier": "auto"},
    }
    assert spec_py.parse_spec(stored) == spec_py.parse_spec(INLINE)


def test_backend_output_and_timeout_have_no_default_so_the_operator_config_decides() -> None:
    stored = ApiServer().admit(renderjob(INLINE))["spec"]
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
        ApiServer().admit(renderjob(spec))


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
        ApiServer().admit(renderjob(spec))
    assert any(message in error for error in refused.value.errors)


def test_exclusive_fields_are_enforced_by_oneof_alone_on_servers_without_cel() -> None:
    server = ApiServer(cel=False)
    spec: Obj
    for spec in ({**INLINE, **REEL}, {"quality": "low"}, {"source": {}}):
        with pytest.raises(Rejected, match="oneOf"):
            server.admit(renderjob(spec))


def test_a_script_over_256_KiB_of_utf8_passes_the_api_server_but_not_the_operator() -> None:
    # maxLength counts characters; only chalkline can count the bytes.
    spec = {"source": {"inline": "é" * (spec_py.MAX_INLINE_BYTES // 2 + 1)}}
    ApiServer().admit(renderjob(spec))
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
    ApiServer().admit(renderjob(INLINE, finished(), generation=2))


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
        ApiServer().admit(renderjob(INLINE, status, generation=2))


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


# --- The API server, emulated -----------------------------------------------


class Rejected(Exception):
    """The API server refused the object; ``errors`` are its field errors."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class ApiServer:
    """Admission of a RenderJob as a Kubernetes API server does it."""

    def __init__(self, *, cel: bool = True) -> None:
        self.schema = version_schema()
        self.cel = cel

    def admit(self, obj: Mapping[str, Any]) -> Obj:
        """Return the object as stored (defaults filled in), or raise :class:`Rejected`."""
        stored: Obj = apply_defaults(self.schema, copy.deepcopy(dict(obj)))
        errors = [field_error(e) for e in strict_validator(self.schema).iter_errors(stored)]
        for path, schema, value in walk(self.schema, stored):
            errors += list_type_errors(path, schema, value)
            if self.cel:
                errors += cel_errors(path, schema, value)
        if errors:
            raise Rejected(errors)
        return stored


def field_error(error: ValidationError) -> str:
    path = ".".join(map(str, error.absolute_path)) or "<root>"
    if error.validator == "oneOf":  # the API server's own words
        return f"{path}: Invalid value: must validate one and only one schema (oneOf)"
    return f"{path}: {error.message}"


def load_crd() -> Obj:
    crd: Obj = yaml.safe_load(CRD_PATH.read_text())
    return crd


def version_schema() -> Obj:
    schema: Obj = load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def version_schema_columns() -> list[Obj]:
    columns: list[Obj] = load_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    return columns


def base_docs(name: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]


def apply_defaults(schema: Obj, value: Any) -> Any:
    """Fill in ``default`` where a field is absent, outside in (a default is defaulted too)."""
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def closed(schema: Any) -> Any:
    """The schema with every object that lists ``properties`` refusing others (Strict)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        result["additionalProperties"] = False
    if "properties" in schema:
        result["properties"] = {k: closed(v) for k, v in schema["properties"].items()}
    return result


def go_pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """Go's RE2 ``$`` is the end of the text; Python's also matches before a final newline."""
    go = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    if isinstance(instance, str) and not re.search(go, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    """RFC 3339, as metav1.Time serialises: a date, a time and a zone."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(value)
    datetime.fromisoformat(value)
    return True


# Draft 4: what apiextensions' OpenAPI v3 subset follows (2.0 is not an integer).
StrictDraft4 = validators.create(
    meta_schema=Draft4Validator.META_SCHEMA,
    validators={**Draft4Validator.VALIDATORS, "pattern": go_pattern},
    type_checker=Draft4Validator.TYPE_CHECKER,
)


def strict_validator(schema: Obj) -> jsonschema.protocols.Validator:
    validator: jsonschema.protocols.Validator = StrictDraft4(closed(schema), format_checker=FORMATS)
    return validator


def walk(schema: Obj, value: Any, path: str = "") -> Iterator[tuple[str, Obj, Any]]:
    """Every (path, schema, value) of ``value`` that its schema declares."""
    yield path or "<root>", schema, value
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from walk(sub, value[name], f"{path}.{name}" if path else name)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from walk(schema["items"], item, f"{path}[{i}]")


def list_type_errors(path: str, schema: Obj, value: Any) -> list[str]:
    """``set`` lists hold no duplicates; ``map`` lists no two items with the same keys."""
    if not isinstance(value, list):
        return []
    kind = schema.get("x-kubernetes-list-type", "atomic")
    if kind == "set":
        keys = [repr(item) for item in value]
    elif kind == "map":
        names = schema["x-kubernetes-list-map-keys"]
        keys = [repr([item.get(n) for n in names]) for item in value if isinstance(item, dict)]
    else:
        return []
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    return [f"{path}: Duplicate value: {key}" for key in duplicates]


def cel_rules(schema: Obj, path: str = "") -> Iterator[tuple[str, Obj]]:
    """Every ``x-kubernetes-validations`` rule in the schema, with where it sits."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path or "<root>", rule
    for name, sub in schema.get("properties", {}).items():
        yield from cel_rules(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from cel_rules(schema["items"], f"{path}[]")


def cel_errors(path: str, schema: Obj, value: Any) -> list[str]:
    """Evaluate the node's CEL rules with ``self`` bound to its value."""
    if not isinstance(value, dict):
        return []
    errors = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        program = env.program(env.compile(rule["rule"]))
        try:
            passed = bool(program.evaluate({"self": json_to_cel(value)}))
        except CELEvalError as err:
            errors.append(f"{path}: rule {rule['rule']!r} failed to evaluate: {err}")
            continue
        if not passed:
            errors.append(f"{path}: Invalid value: {rule['message']}")
    return errors


JUNCTORS = ("oneOf", "anyOf", "allOf", "not")
NOT_IN_JUNCTORS = ("type", "description", "default", "additionalProperties", "nullable")


def structural_violations(schema: Obj) -> list[str]:
    """What an API server (and this project) would object to in the CRD's schema."""
    problems = []
    meta = schema["properties"].get("metadata", {})
    if set(meta) - {"type"}:
        problems.append("metadata: only `type: object` (the API server owns ObjectMeta)")
    for path, node in schema_nodes(schema):
        problems += [f"{path}: {p}" for p in node_violations(path, node)]
    return problems


def schema_nodes(schema: Obj, path: str = "") -> Iterator[tuple[str, Obj]]:
    yield path or "<root>", schema
    for name, sub in schema.get("properties", {}).items():
        yield from schema_nodes(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from schema_nodes(schema["items"], f"{path}[]")


def node_violations(path: str, node: Obj) -> Iterator[str]:
    kind = node.get("type")
    if kind is None:
        yield "no type"
    if node.get("x-kubernetes-preserve-unknown-fields"):
        yield "preserves unknown fields"
    if kind == "object" and "properties" not in node and path != "metadata":
        yield "an object without properties accepts anything"
    if kind == "array":
        if "items" not in node:
            yield "an array without items"
        if "maxItems" not in node:
            yield "an unbounded array"
    bounded = {"maxLength", "enum", "format"} & set(node) or path in ("apiVersion", "kind")
    if kind == "string" and not bounded:
        yield "an unbounded string"
    for junctor in JUNCTORS:
        for branch in node.get(junctor, []):
            if set(branch) & {*NOT_IN_JUNCTORS, "properties", "items"}:
                yield f"{junctor} may only hold value validations"
            for name in branch.get("required", []):
                if name not in node.get("properties", {}):
                    yield f"{junctor} requires {name}, which is not declared"
    for rule in node.get("x-kubernetes-validations", []):
        if not rule.get("message"):
            yield f"CEL rule {rule['rule']!r} has no message"
    if "default" in node:
        errors = list(strict_validator(node).iter_errors(apply_defaults(node, node["default"])))
        if errors:
            yield f"default does not validate: {errors[0].message}"
    if node.get("x-kubernetes-list-type") == "map":
        item = node["items"]
        for key in node.get("x-kubernetes-list-map-keys", []):
            if key not in item.get("required", []) and "default" not in item["properties"][key]:
                yield f"map key {key} is neither required nor defaulted"


def schema_at(schema: Obj, json_path: str) -> Obj | None:
    """The schema node a printer column's JSONPath reads (``None`` inside metadata)."""
    node = schema
    for name, has_filter, _key, _value in json_path_steps(json_path):
        if name == "metadata" and node is schema:
            return None
        node = node["properties"][name]
        if has_filter:
            node = node["items"]
    return node


def json_path(obj: Obj, path: str) -> Any:
    """The value ``kubectl get`` prints for a column: dotted names and one ``[?(@.k=="v")]``."""
    value: Any = obj
    for name, has_filter, key, wanted in json_path_steps(path):
        value = value.get(name) if isinstance(value, dict) else None
        if has_filter:
            matches = [v for v in value or [] if v.get(key) == wanted]
            value = matches[0] if matches else None
    return value


def json_path_steps(path: str) -> Iterator[tuple[str, bool, str, str]]:
    step = re.compile(r'\.(\w+)(\[\?\(@\.(\w+)=="([^"]*)"\)\])?')
    position = 0
    while position < len(path):
        match = step.match(path, position)
        assert match, f"unsupported JSONPath {path!r} at {position}"
        yield match[1], match[2] is not None, match[3] or "", match[4] or ""
        position = match.end()


def kubectl_wait_condition_met(obj: Obj, condition: str) -> bool:
    """``kubectl wait --for=condition=X`` (kubectl's checkCondition, in Python).

    A condition of type X (any case) with status True, unless its
    observedGeneration (or else the status's) is older than metadata.generation.
    """
    generation = obj["metadata"].get("generation")
    status = obj.get("status", {})
    for item in status.get("conditions", []):
        if item["type"].casefold() != condition.casefold():
            continue
        observed = item.get("observedGeneration", status.get("observedGeneration"))
        if generation is not None and observed is not None and observed < generation:
            continue
        return bool(item["status"].casefold() == "true")
    return False


DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def configmap_violations(configmap: Obj) -> list[str]:
    """A minimal ConfigMap check: names, keys, text values, and the 1 MiB object limit."""
    problems = []
    if (configmap.get("apiVersion"), configmap.get("kind")) != ("v1", "ConfigMap"):
        problems.append("not a v1 ConfigMap")
    name = configmap.get("metadata", {}).get("name", "")
    if len(name) > 253 or not DNS_SUBDOMAIN.fullmatch(name):
        problems.append(f"name {name!r} is not a DNS subdomain")
    if set(configmap) - {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}:
        problems.append("unknown top-level fields")
    data = configmap.get("data", {})
    for key, value in data.items():
        if len(key) > 253 or not CONFIGMAP_KEY.fullmatch(key) or key in (".", ".."):
            problems.append(f"key {key!r} is not a valid ConfigMap key")
        if not isinstance(value, str):
            problems.append(f"data.{key} is not text")
    if sum(len(k) + len(str(v).encode()) for k, v in data.items()) > 1024 * 1024:
        problems.append("data is larger than 1 MiB")
    return problems
