"""What clients read from an API server besides objects: selectors and Tables.

kmock's emulator serves objects; kubectl also relies on two things a real
kube-apiserver does for it:

- **selectors**: ``kubectl wait`` lists and watches with
  ``fieldSelector=metadata.name=NAME`` and ``kubectl describe`` finds Events
  with ``fieldSelector=involvedObject.name=...,involvedObject.uid=...``; an
  emulator that ignores them hands back every object (describe then shows
  other objects' Events and wait can pick the wrong object).
- **server-side printing**: ``kubectl get`` asks for
  ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
  Table it gets. For a custom resource, the API server builds the columns from
  the CRD's ``additionalPrinterColumns`` (JSONPath cells, ``date`` cells as
  ages), which is how ``kubectl get renderjobs`` shows Phase, Progress, Tier,
  Video and Age, and ``-o wide`` the columns of priority > 0.

Pure functions of plain JSON values, so the emulator stays about API semantics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

#: What kube-apiserver prints for a resource whose CRD declares no columns.
DEFAULT_COLUMNS: tuple[Mapping[str, Any], ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace.",
}

_PATH_STEP = re.compile(
    r"""\.(?P<key>[A-Za-z0-9_-]+)"""
    r"""|\[(?P<index>\d+)\]"""
    r"""|\[\?\(@\.(?P<field>[A-Za-z0-9_.-]+)\s*==\s*["'](?P<value>[^"']*)["']\)\]"""
)


# --- selectors -------------------------------------------------------------------


def selected(obj: Mapping[str, Any], field_selector: str, label_selector: str) -> bool:
    """Whether ``obj`` passes both selectors (empty selectors pass everything).

    Field selectors: ``a.b=v``, ``a.b==v``, ``a.b!=v``, comma-separated.
    Label selectors: the same operators plus ``key`` (exists) and ``!key``.
    Set-based label selectors (``key in (a,b)``) are not supported.
    """
    for term in _terms(field_selector):
        path, negated, expected = _split_term(term)
        actual = _dotted(obj, path)
        if (("" if actual is None else str(actual)) == expected) == negated:
            return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in _terms(label_selector):
        if term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "=" not in term:
            if term not in labels:
                return False
        else:
            key, negated, expected = _split_term(term)
            if (labels.get(key) == expected) == negated:
                return False
    return True


def _terms(selector: str) -> list[str]:
    return [term.strip() for term in selector.split(",") if term.strip()]


def _split_term(term: str) -> tuple[str, bool, str]:
    """``key!=value`` -> (key, negated, value)."""
    for operator, negated in (("!=", True), ("==", False), ("=", False)):
        if operator in term:
            key, value = term.split(operator, 1)
            return key.strip(), negated, value.strip()
    raise ValueError(f"not a selector term: {term!r}")


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, Mapping) else None
    return obj


# --- tables ----------------------------------------------------------------------


def wants_table(accept: str) -> bool:
    """Whether the client asked for server-side printing (``kubectl get`` does)."""
    return "as=Table" in accept


def table(
    objects: Iterable[Mapping[str, Any]],
    columns: Sequence[Mapping[str, Any]],
    resource_version: str,
    now: datetime | None = None,
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``, as kube-apiserver prints a CRD."""
    moment = now or datetime.now(UTC)
    columns = list(columns) or list(DEFAULT_COLUMNS)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [_NAME_COLUMN] + [_definition(c) for c in columns],
        "rows": [
            {
                "cells": [obj["metadata"]["name"]] + [_cell(obj, c, moment) for c in columns],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for obj in objects
        ],
    }


def _definition(column: Mapping[str, Any]) -> Obj:
    return {
        "name": column["name"],
        "type": column.get("type", "string"),
        "format": column.get("format", ""),
        "description": column.get("description", ""),
        "priority": column.get("priority", 0),
    }


def _cell(obj: Mapping[str, Any], column: Mapping[str, Any], now: datetime) -> Any:
    value = jsonpath(obj, column["jsonPath"])
    if column.get("type") == "date" and isinstance(value, str):
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return human_duration((now - then).total_seconds())
    return value


def jsonpath(obj: Any, path: str) -> Any:
    """The JSONPath subset printer columns use: ``.a.b``, ``[N]``, ``[?(@.k=="v")]``.

    Like kube-apiserver, a filter yields its first match; anything absent is None.
    """
    for step in _PATH_STEP.finditer(path):
        if step["key"] is not None:
            obj = obj.get(step["key"]) if isinstance(obj, Mapping) else None
        elif step["index"] is not None:
            index = int(step["index"])
            obj = obj[index] if isinstance(obj, list) and index < len(obj) else None
        else:
            matches = [
                item
                for item in (obj if isinstance(obj, list) else [])
                if str(_dotted(item, step["field"])) == step["value"]
            ]
            obj = matches[0] if matches else None
        if obj is None:
            return None
    return obj


def human_duration(seconds: float) -> str:
    """An age the way kubectl shows it (apimachinery's ``duration.HumanDuration``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"
