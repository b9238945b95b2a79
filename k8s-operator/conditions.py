"""Status conditions per the Kubernetes API conventions."""

from __future__ import annotations

from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]
SUCCEEDED = "Succeeded"


def set_condition(
    conditions: list[dict[str, Any]],
    *,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """A copy of ``conditions`` with ``type_`` set.

    ``lastTransitionTime`` moves only when the status itself changes, as the
    conventions ask, so watchers can tell a transition from a refresh.
    """
    previous = condition(conditions, type_)
    changed = previous is None or previous.get("status") != status
    since = now if previous is None or changed else previous.get("lastTransitionTime", now)
    updated = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": since,
    }
    return [c for c in conditions if c.get("type") != type_] + [updated]


def condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
