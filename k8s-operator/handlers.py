"""Kopf handlers: thin translations between Kopf's calls and the controller.

A timer per RenderJob reconciles it every ``poll_interval`` seconds (level-
triggered: a spec change, a finished task and a restart are all just "look
again"); a delete handler cancels work and removes intermediates. Kopf owns
the finalizer, retries failed API calls with backoff, and serves liveness.
"""

from __future__ import annotations

from typing import Any

import kopf

from chalkline.core.layout import JobRef
from chalkline.operator.actions import Emit
from chalkline.operator.controller import Controller, status_patch

GROUP = "chalkline.dev"
VERSION = "v1alpha1"
PLURAL = "renderjobs"


def job_ref(meta: Any) -> JobRef:
    return JobRef(meta["namespace"], meta["name"], meta["uid"], int(meta.get("generation") or 1))


def build_registry(controller: Controller, poll_interval: float) -> kopf.OperatorRegistry:
    """Register the handlers on a fresh registry (so tests can run several operators)."""
    registry = kopf.OperatorRegistry()

    # A fresh registry has none of the standard logins Kopf's default one adds,
    # and without a login handler the operator stops with "Ran out of valid
    # credentials". The kubernetes client's: in-cluster service account, else
    # the current kubeconfig context, as operator/kube.py reads ConfigMaps.
    @kopf.on.login(id="login", registry=registry)
    def log_in(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    @kopf.timer(GROUP, VERSION, PLURAL, interval=poll_interval, id="reconcile", registry=registry)
    def reconcile_renderjob(
        body: kopf.Body,
        meta: kopf.Meta,
        spec: kopf.Spec,
        status: kopf.Status,
        patch: kopf.Patch,
        **_: Any,
    ) -> None:
        old = dict(status)
        new = controller.step(job_ref(meta), dict(spec), old, lambda e: _post(body, e))
        changes = status_patch(old, new)
        if changes:
            patch.status.update(changes)

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="clean-up", registry=registry)
    def clean_up_renderjob(
        meta: kopf.Meta, status: kopf.Status, logger: kopf.Logger, **_: Any
    ) -> None:
        try:
            removed = controller.clean_up(job_ref(meta), dict(status))
            logger.info("removed %d intermediate file(s)", removed)
        except Exception:  # never hold the finalizer hostage to a cleanup problem
            logger.exception("clean-up failed; intermediates may remain in storage")

    @kopf.on.probe(id="executor", registry=registry)
    def executor_probe(**_: Any) -> str:
        return controller.executor.name

    return registry


def _post(body: kopf.Body, event: Emit) -> None:
    kopf.event(body, type=event.type, reason=event.reason, message=event.message[:1024])
