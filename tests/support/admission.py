"""A Kubernetes API server's admission of a RenderJob, without a cluster.

What it validates: a RenderJob object against the CRD (crds/renderjob.yaml),
as kube-apiserver does, in its order: fill in the schema's defaults, reject
unknown fields (``kubectl`` asks for ``fieldValidation=Strict``), check types,
enums, bounds and patterns (with Go's ``$``, which never matches before a
final newline), list uniqueness (``x-kubernetes-list-type``), and evaluate the
CEL rules (``x-kubernetes-validations``) with cel-python. Besides admission:
the rules an API server applies to the schema itself before it accepts the CRD
(a structural schema), plus chalkline's own (closed objects, bounded sizes);
what ``kubectl get`` prints for a printer column and when ``kubectl wait
--for=condition=...`` is met; and a minimal ConfigMap check.

Why: the CRD and chalkline's own spec parser (chalkline.core.spec) must admit
and refuse the same RenderJobs, and the manifests under manifests/examples/
must be admitted; tests/unit/test_crd_schema.py checks both on every commit,
with no cluster and in milliseconds. This is a model of kube-apiserver's
checks, not a port of them: each rule is here because the CRD relies on it.

(The end-to-end tests' API server, which serves objects over HTTP but
validates no schema, is :mod:`tests.support.kube_emulator`.)
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
import yaml
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators

CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "renderjob.yaml"

Obj = dict[str, Any]


class Rejected(Exception):
    """The API server refused the object; ``errors`` are its field errors."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class AdmissionChecks:
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
