"""A Kubernetes API server for end-to-end tests: kmock's emulator, made strict.

kmock's ``KubernetesEmulator`` (by Kopf's author) keeps objects in memory and
serves list, watch, get, create, patch and delete over HTTP. It treats objects
as plain JSON, though, and Kopf, the ``kubernetes`` client and kubectl rely on
what a real API server does besides storing. This subclass takes over the
writes and the reads of objects and adds exactly that; each point below was
seen to break the real operator or kubectl without it (.research/kopf-kmock.md):

resourceVersion
    Every change takes the next number of one global counter, like etcd's
    revision, and lists report the counter. Kopf adds its finalizer with a
    JSON patch whose first operation tests ``/metadata/resourceVersion``:
    without versions that patch fails and no finalizer is ever added.
watch from a version
    A watch with ``?resourceVersion=N`` replays the changes after N from a log,
    then streams new ones; a watch without one starts with the current objects
    as ADDED. kmock replays every object as ADDED on each watch (Kopf then sees
    bodies older than its own patches and stalls waiting for consistency) and
    loses changes between a client's list and its watch (``kubectl delete``
    then waits for a DELETED event that never comes).
generation
    ``metadata.generation`` (custom resources, Jobs and Pods) starts at 1 and
    grows by one whenever ``spec`` changes; nothing else moves it. The
    operator tells a user's spec change from its own status writes by it,
    and reports it as observedGeneration.
status subresource
    For a CRD with ``subresources: {status: {}}``, and for Jobs and Pods, a
    patch of ``/status`` changes status only, a patch of the object never
    changes status, and a create drops status (a Pod starts ``Pending``), as
    the API server enforces.
server-set metadata
    ``generateName`` (Kopf posts every Event with it: without it the second
    Event conflicts with the first), ``uid``, ``creationTimestamp``; clients
    cannot change them, nor ``deletionTimestamp``.
delete and finalizers
    An object with finalizers gets a ``deletionTimestamp`` and stays until a
    patch removes its last finalizer; then, or at once without finalizers, it
    is gone, with a DELETED event that has a version of its own.
garbage collection
    When an object is gone, its dependents (objects whose ``ownerReferences``
    name its uid) are deleted too, unless the delete asked to orphan them
    (``propagationPolicy=Orphan``, as a query parameter or in the
    DeleteOptions body, or the older ``orphanDependents``): then the
    reference to the owner is taken off them. A delete that names no policy
    takes the resource's default, which for ``batch/v1`` Jobs is Orphan (their
    pods stay and keep running) and for everything else Background. The real
    garbage collector does this a moment later and through finalizers
    (``orphan``, ``foregroundDeletion``); here it happens in the same request,
    so Foreground behaves like Background. A dependent with another owner
    still alive loses only its reference to the one that went.
no-op patches
    A patch that changes nothing changes no version and notifies nobody.
errors
    Kubernetes ``Status`` bodies with the reasons clients test for:
    NotFound, AlreadyExists, Conflict (a merge patch naming a stale
    resourceVersion), Invalid (a failed JSON-patch ``test``), Expired (a watch
    from a version older than the log).
CRDs
    Creating a CustomResourceDefinition serves its resource (with the printer
    columns kubectl shows), so a walkthrough can start with
    ``kubectl apply -f crds/renderjob.yaml``.
Jobs and Pods
    ``batch/v1`` ``jobs`` and ``v1`` ``pods`` are served with the rules
    above, so the real operator can run its Jobs here; nothing runs them
    unless a test starts :class:`tests.support.kube_node.FakeNode` (the Job
    controller and the kubelet). No defaults are filled in (``spec.selector``,
    ``backoffLimit``...) and nothing is validated.
server version
    ``GET /version`` says v1.33.0: clients choose Job fields by it (the
    operator uses ``backoffLimitPerIndex``, GA in 1.33, when it may).

Selectors and server-side Tables for kubectl are in
:mod:`tests.support.kubectl_support`. The emulator runs on one event loop; see
:mod:`tests.support.harness` for running it in a thread of its own. It checks
no schema: admission against the CRD is :mod:`tests.support.admission`.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock

from tests.support.kubectl_support import selected, table, wants_table

Obj = dict[str, Any]
Key = tuple[kmock.resource, str | None, str]  # resource, namespace, name: an object's address

#: The verbs every emulated resource serves (PUT, i.e. ``replace``, is not emulated).
VERBS = frozenset({"get", "list", "watch", "create", "patch", "delete"})

#: Changes kept per resource for watches from a version (etcd compacts, too).
LOG_LIMIT = 10_000

#: The Kubernetes release the emulator claims to be, at ``GET /version``.
SERVER_VERSION = (1, 33, 0)

CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
JOBS = kmock.resource("batch", "v1", "jobs")

#: What a delete does to dependents when it names no policy (see the module docstring).
DEFAULT_PROPAGATION = "Background"
ORPHANING_BY_DEFAULT = frozenset({JOBS})
PROPAGATION_POLICIES = frozenset({"Orphan", "Background", "Foreground"})


@dataclass(frozen=True)
class Kind:
    """What the API server knows about a resource beyond its discovery entry."""

    kind: str
    api_version: str
    namespaced: bool
    generation: bool = False
    status_subresource: bool = False
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    initial_status: Mapping[str, Any] | None = None  # what a create sets, when it drops status


@dataclass
class ChangeLog:
    """The watch events of one resource in order, each with its revision."""

    events: list[tuple[int, Obj]] = field(default_factory=list)
    start: int = 0  # the position of events[0] among all events ever logged
    compacted: int = 0  # the newest revision no longer in the log
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def end(self) -> int:
        return self.start + len(self.events)

    def position_after(self, revision: int) -> int:
        """The position of the first event newer than ``revision``."""
        return self.start + bisect.bisect_right(self.events, revision, key=lambda e: e[0])

    def since(self, position: int) -> list[Obj]:
        return [event for _, event in self.events[position - self.start :]]

    async def wait_beyond(self, position: int, closing: Callable[[], bool]) -> bool:
        """Wait until an event at ``position`` exists; False if the server closes first."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.end > position or closing())
        return not closing()

    async def append(self, revision: int, event: Obj) -> None:
        self.events.append((revision, event))
        if len(self.events) > LOG_LIMIT:
            dropped = len(self.events) - LOG_LIMIT
            self.compacted = self.events[dropped - 1][0]
            del self.events[:dropped]
            self.start += dropped
        async with self.changed:
            self.changed.notify_all()


@attrs.define(kw_only=True)
class ApiServerEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with the API server semantics in the module docstring."""

    _revision: int = attrs.field(default=0, init=False)
    _kinds: dict[kmock.resource, Kind] = attrs.field(factory=dict, init=False)
    _logs: dict[kmock.resource, ChangeLog] = attrs.field(factory=dict, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    # The propagation policy of a delete that waits for finalizers, by uid.
    _policies: dict[str, str] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        answers = self.fallback**1  # ahead of kmock's own answers to the same requests
        # kubectl decodes a watch only if it is declared JSON; aiohttp's default is octet-stream.
        (
            answers[kmock.action.WATCH]
            << kmock.headers({"Content-Type": "application/json"})
            << self._serve_watch
        )
        # The kubernetes client's VersionApi asks for "/version/"; kmock serves "/version" only.
        answers["get /version/"] << self._serve_server_version
        # 201 Created, as real servers answer: the kubernetes client reads no body from a 200.
        answers[kmock.action.CREATE] << 201 << self._serve_create
        # Kopf waits for namespaces and events in the discovery before it watches
        # anything or posts an Event; the operator reads ConfigMaps; kubectl installs CRDs.
        self.declare("v1", "namespaces", "Namespace", namespaced=False, shortnames=("ns",))
        self.declare("v1", "events", "Event", namespaced=True, shortnames=("ev",))
        self.declare("v1", "configmaps", "ConfigMap", namespaced=True, shortnames=("cm",))
        self.declare(
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            shortnames=("crd", "crds"),
        )
        # The kubernetes backend runs renders as Jobs (tests.support.kube_node runs their pods).
        self.declare(
            "batch/v1",
            "jobs",
            "Job",
            namespaced=True,
            details=Kind("Job", "batch/v1", True, generation=True, status_subresource=True),
        )
        pods = Kind(
            "Pod",
            "v1",
            namespaced=True,
            generation=True,
            status_subresource=True,
            initial_status={"phase": "Pending"},
        )
        self.declare("v1", "pods", "Pod", namespaced=True, shortnames=("po",), details=pods)

    # --- declaring resources -----------------------------------------------------

    def declare(
        self,
        api_version: str,
        plural: str,
        kind: str,
        *,
        namespaced: bool,
        shortnames: tuple[str, ...] = (),
        categories: tuple[str, ...] = (),
        singular: str | None = None,
        details: Kind | None = None,
    ) -> None:
        """Serve a resource: its discovery entry, its objects and their watches."""
        resource = kmock.resource(f"{api_version}/{plural}")
        self._kinds[resource] = details or Kind(kind, api_version, namespaced)
        subresources = {"status"} if self._kinds[resource].status_subresource else set()
        self.resources[resource] = kmock.ResourceInfo(
            kind=kind,
            singular=singular or kind.lower(),
            namespaced=namespaced,
            verbs=set(VERBS),
            shortnames=set(shortnames),
            categories=set(categories),
            subresources=subresources,
        )

    def serve_crd(self, crd: Mapping[str, Any]) -> None:
        """Serve the custom resource a CustomResourceDefinition defines (all served versions).

        Deleting the CRD does not withdraw it (no test needs that).
        """
        spec = crd["spec"]
        names = spec["names"]
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            api_version = f"{spec['group']}/{version['name']}"
            details = Kind(
                kind=names["kind"],
                api_version=api_version,
                namespaced=namespaced,
                generation=True,
                status_subresource="status" in (version.get("subresources") or {}),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
            self.declare(
                api_version,
                names["plural"],
                names["kind"],
                namespaced=namespaced,
                shortnames=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                singular=names.get("singular"),
                details=details,
            )

    async def close_watches(self) -> None:
        """End every watch stream, so the HTTP server can stop without waiting for them."""
        self._closing = True
        for log in self._logs.values():
            async with log.changed:
                log.changed.notify_all()

    # --- writes ------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        writes = (kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE)
        if request.resource is None or request.action not in writes:
            return await super()._handle(request)
        async with self._lock:
            if request.action == kmock.action.CREATE:
                await self._create(request)
            elif request.action == kmock.action.UPDATE:
                await self._patch(request)
            else:
                await self._delete(request)
        # The write is done; skip kmock's own plain-JSON write and only serve the answer.
        return await kmock.RawHandler._handle(self, request)

    async def _create(self, request: kmock.Request) -> None:
        resource, kind = self._kind_of(request)
        if not isinstance(request.data, dict):
            raise _error(400, "BadRequest", "the body must be a JSON object")
        obj: Obj = copy.deepcopy(request.data)
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta["namespace"] = request.namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise _error(422, "Invalid", "metadata.name or metadata.generateName is required")
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        key: Key = (resource, meta.get("namespace"), meta["name"])
        if key in self.objects and not self.objects[key].deleted:
            raise _error(409, "AlreadyExists", f'{_what(resource)} "{meta["name"]}" already exists')
        for server_owned in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(server_owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._next_revision()
        if kind.generation:
            meta["generation"] = 1
        if kind.status_subresource:
            obj.pop("status", None)
        if kind.initial_status is not None:
            obj["status"] = copy.deepcopy(dict(kind.initial_status))
        if resource == CRDS:
            obj["status"] = _established(obj)
            self.serve_crd(obj)
        if key in self.objects:
            self.objects[key].create(obj)  # a new life for a name that was deleted
        else:
            self.objects[key] = obj
        # kmock's answer looks the object up by the name in the request's body.
        request.data.setdefault("metadata", {}).update(
            name=meta["name"], namespace=meta.get("namespace")
        )
        await self._log(resource, "ADDED", obj)

    async def _patch(self, request: kmock.Request) -> None:
        resource, kind = self._kind_of(request)
        if request.subresource not in (None, "status") or (
            request.subresource == "status" and not kind.status_subresource
        ):
            raise _error(404, "NotFound", f"{_what(resource)} has no {request.subresource} here")
        key, old = self._existing(request)
        patched = _apply_patch(old, request.data, request.headers.get("Content-Type", ""))
        new = _server_rules(old, patched, kind, request.subresource)
        if new == old:
            return  # a no-op patch: no new version, no event
        await self._modify(resource, key, new)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            await self._remove(resource, key, new)

    async def _delete(self, request: kmock.Request) -> None:
        resource, _ = self._kind_of(request)
        key, obj = self._existing(request)
        await self._delete_object(resource, key, obj, _propagation(request))

    async def _delete_object(
        self, resource: kmock.resource, key: Key, obj: Obj, policy: str | None
    ) -> None:
        meta = obj["metadata"]
        if not meta.get("finalizers"):
            await self._remove(resource, key, obj, policy)
        elif not meta.get("deletionTimestamp"):
            if policy is not None:
                self._policies[meta["uid"]] = policy
            meta.update(deletionTimestamp=_now(), deletionGracePeriodSeconds=0)
            await self._modify(resource, key, obj)

    async def _modify(self, resource: kmock.resource, key: Key, new: Obj) -> None:
        new["metadata"]["resourceVersion"] = self._next_revision()
        self.objects[key].history.append(new)
        await self._log(resource, "MODIFIED", new)

    async def _remove(
        self, resource: kmock.resource, key: Key, obj: Obj, policy: str | None = None
    ) -> None:
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = self._next_revision()
        self.objects[key].history.append(gone)  # kmock answers with the last state...
        self.objects[key].delete()  # ...of an object that no longer exists
        await self._log(resource, "DELETED", gone)
        uid = gone["metadata"].get("uid", "")
        policy = self._policies.pop(uid, None) or policy
        if policy is None:
            policy = "Orphan" if resource in ORPHANING_BY_DEFAULT else DEFAULT_PROPAGATION
        await self._collect(uid, orphan=policy == "Orphan")

    async def _collect(self, owner: str, *, orphan: bool) -> None:
        """The garbage collector's work once ``owner`` (a uid) is gone: see the module docstring."""
        live = {
            o.raw["metadata"].get("uid"): key for key, o in self.objects.items() if not o.deleted
        }
        for key in list(live.values()):
            obj = copy.deepcopy(self.objects[key].raw)
            references = obj["metadata"].get("ownerReferences") or []
            others = [ref for ref in references if ref.get("uid") != owner]
            if len(others) == len(references):
                continue  # not a dependent of the owner
            if orphan or any(ref.get("uid") in live for ref in others):
                _set_or_drop(obj["metadata"], "ownerReferences", others or None)
                await self._modify(key[0], key, obj)
            else:
                await self._delete_object(key[0], key, obj, "Background")

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _kind_of(self, request: kmock.Request) -> tuple[kmock.resource, Kind]:
        resource = request.resource
        if resource is None or resource not in self._kinds:
            raise _error(404, "NotFound", f"the server could not find the resource {resource}")
        return resource, self._kinds[resource]

    def _existing(self, request: kmock.Request) -> tuple[Key, Obj]:
        resource, _ = self._kind_of(request)
        assert request.name is not None
        key: Key = (resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise _error(404, "NotFound", f'{_what(resource)} "{request.name}" not found')
        return key, copy.deepcopy(self.objects[key].raw)

    async def _log(self, resource: kmock.resource, type_: str, obj: Obj) -> None:
        event = {"type": type_, "object": copy.deepcopy(obj)}
        await self._log_of(resource).append(int(obj["metadata"]["resourceVersion"]), event)

    def _log_of(self, resource: kmock.resource) -> ChangeLog:
        return self._logs.setdefault(resource, ChangeLog())

    # --- reads -------------------------------------------------------------------

    async def _serve_list(self, request: kmock.Request) -> kmock.Payload:
        _, kind = self._kind_of(request)
        async with self._lock:
            items = self._matching(request)
            revision = str(self._revision)
        if wants_table(request.headers.get("Accept", "")):
            return table(items, kind.printer_columns, revision)
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": revision},
            "items": items,
        }

    async def _serve_fetch(self, request: kmock.Request) -> kmock.Payload:
        _, kind = self._kind_of(request)
        async with self._lock:
            _, obj = self._existing(request)
            revision = str(self._revision)
        if wants_table(request.headers.get("Accept", "")):
            return table([obj], kind.printer_columns, revision)
        return obj

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[kmock.Payload]:
        yield b""  # send the headers now: the stream is open even if nothing happens yet
        resource, kind = self._kind_of(request)
        log = self._log_of(resource)
        since = _revision_param(request.params.get("resourceVersion"))
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        as_table = wants_table(request.headers.get("Accept", ""))
        backlog: list[Obj] = []
        async with self._lock:  # no write can fall between the backlog and the position
            if since is None:
                backlog = [{"type": "ADDED", "object": obj} for obj in self._matching(request)]
                position = log.end
            elif since < log.compacted:
                yield _expired(since, log.compacted)
                return
            else:
                position = log.position_after(since)
        for event in backlog:
            yield _shown(event, kind, as_table)
        try:
            async with asyncio.timeout(timeout):
                while await log.wait_beyond(position, lambda: self._closing):
                    if position < log.start:  # compacted under a slow watcher
                        yield _expired(since or 0, log.compacted)
                        return
                    events = log.since(position)
                    position += len(events)
                    for event in events:
                        if self._wanted(request, event["object"]):
                            yield _shown(event, kind, as_table)
        except TimeoutError:
            return  # the client's timeoutSeconds: it watches again from its last version

    async def _serve_server_version(self, request: kmock.Request) -> kmock.Payload:
        result = await super()._serve_server_version(request)
        assert isinstance(result, dict)
        major, minor, patch = SERVER_VERSION
        result.update(major=str(major), minor=str(minor), gitVersion=f"v{major}.{minor}.{patch}")
        return result

    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        result = await super()._serve_version(request)
        assert isinstance(result, dict) and request.resource is not None
        if request.resource.group == "":  # kmock says "/v1"; kubectl then finds no core types
            result["groupVersion"] = request.resource.version
        for entry in result["resources"]:
            if (
                "/" in entry["name"]
            ):  # else kubectl: short name "rj" could also match renderjobs/status
                entry["shortNames"], entry["categories"] = [], []
        return result

    def _matching(self, request: kmock.Request) -> list[Obj]:
        found = [
            (namespace or "", name, obj)
            for (resource, namespace, name), obj in self.objects.items()
            if resource == request.resource and not obj.deleted
        ]
        return [
            copy.deepcopy(obj.raw)
            for _, _, obj in sorted(found, key=lambda entry: entry[:2])
            if self._wanted(request, obj.raw)
        ]

    def _wanted(self, request: kmock.Request, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (
            (request.namespace is None or meta.get("namespace") == request.namespace)
            and (request.name is None or meta.get("name") == request.name)
            and selected(
                obj,
                request.params.get("fieldSelector", ""),
                request.params.get("labelSelector", ""),
            )
        )


# --- the rules, as plain functions ---------------------------------------------------


def _apply_patch(old: Obj, patch: Any, content_type: str) -> Obj:
    """Apply a JSON patch (a list) or a merge patch (an object) to a copy of ``old``."""
    if "apply-patch" in content_type:
        raise _error(415, "UnsupportedMediaType", "server-side apply is not emulated")
    if isinstance(patch, list):
        try:
            result = jsonpatch.apply_patch(copy.deepcopy(old), patch)
        except jsonpatch.JsonPatchTestFailed as err:  # e.g. Kopf's resourceVersion test
            raise _error(422, "Invalid", f"the JSON patch test failed: {err}") from None
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
            raise _error(422, "Invalid", f"the JSON patch does not apply: {err}") from None
        assert isinstance(result, dict)
        return result
    if not isinstance(patch, dict):
        raise _error(400, "BadRequest", "a patch must be a JSON object or a JSON patch list")
    stated = (patch.get("metadata") or {}).get("resourceVersion")
    if stated is not None and stated != old["metadata"]["resourceVersion"]:
        raise _error(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version",
        )
    merged = merge_patch(old, patch)
    assert isinstance(merged, dict)
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, ``null`` removes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _server_rules(old: Obj, new: Obj, kind: Kind, subresource: str | None) -> Obj:
    """What the API server keeps of a patched object: see the module docstring."""
    if subresource == "status":
        result = copy.deepcopy(old)
        _set_or_drop(result, "status", new.get("status"))
        return result
    if kind.status_subresource:
        _set_or_drop(new, "status", old.get("status"))
    meta = new.setdefault("metadata", {})
    for owned in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "resourceVersion",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        _set_or_drop(meta, owned, old["metadata"].get(owned))
    if kind.generation and new.get("spec") != old.get("spec"):
        meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
    return new


def _set_or_drop(obj: Obj, key: str, value: Any) -> None:
    if value is None:
        obj.pop(key, None)
    else:
        obj[key] = value


def _established(crd: Mapping[str, Any]) -> Obj:
    """The status a CRD reaches once its names are accepted (at once, here)."""
    now = _now()
    return {
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        "conditions": [
            {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
            for t, r, m in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            )
        ],
    }


def _shown(event: Obj, kind: Kind, as_table: bool) -> Obj:
    """A watch event as the client asked for it: the object, or a Table row of it."""
    if not as_table or event["type"] == "ERROR":
        return event
    obj = event["object"]
    revision = obj["metadata"]["resourceVersion"]
    return {"type": event["type"], "object": table([obj], kind.printer_columns, revision)}


def _propagation(request: kmock.Request) -> str | None:
    """The propagation policy a delete asks for (query or DeleteOptions body), or None."""
    options = request.data if isinstance(request.data, dict) else {}
    policy = request.params.get("propagationPolicy") or options.get("propagationPolicy")
    orphan = request.params.get("orphanDependents", options.get("orphanDependents"))
    if policy is None and orphan is not None:
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    if policy is not None and policy not in PROPAGATION_POLICIES:
        raise _error(422, "Invalid", f"propagationPolicy: Unsupported value: {policy!r}")
    return policy


def _revision_param(value: str | None) -> int | None:
    """A watch's ``resourceVersion``: absent or "0" mean "start with the current state"."""
    if not value or not value.isdigit() or int(value) == 0:
        return None
    return int(value)


def _expired(since: int, compacted: int) -> Obj:
    return {
        "type": "ERROR",
        "object": {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "reason": "Expired",
            "code": 410,
            "message": f"too old resource version: {since} ({compacted})",
        },
    }


def _error(status: int, reason: str, message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=status, reason=reason, message=message, details={})


def _what(resource: kmock.resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
