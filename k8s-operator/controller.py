"""The imperative shell around the reconciler: observe, decide, act.

Used by the Kopf handlers and by ``chalkline run``, which differ only in how
they read ConfigMaps and where Events go. Every piece of I/O of the operator
happens here; the decisions happen in :mod:`chalkline.operator.reconciler`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalkline.core.errors import ChalklineError, InvalidSpec, SourceNotFound
from chalkline.core.layout import JobRef, Layout, clip_of_manifest, is_manifest
from chalkline.core.probe import probe_clip, probe_stream
from chalkline.core.records import ClipManifest, read_manifest
from chalkline.core.spec import RenderJobSpec, parse_spec
from chalkline.executors.base import ExecutionReport, Executor
from chalkline.operator.actions import (
    Cancel,
    Emit,
    LaunchRender,
    LaunchStitch,
    SignVideoUrl,
    StageScript,
)
from chalkline.operator.reconciler import (
    ClipStats,
    Decision,
    Observed,
    Settings,
    Status,
    now_text,
    reconcile,
)
from chalkline.operator.status import RenderJobStatus
from chalkline.storage.base import Storage

#: How long a delete waits for cancelled executions to stop before removing files.
CANCEL_WAIT_SECONDS = 30.0
CANCEL_POLL_SECONDS = 0.5
#: A ConfigMap holds at most 1 MiB in all; one key may use all of it.
MAX_CONFIG_MAP_SCRIPT_BYTES = 1024 * 1024

ConfigMapReader = Callable[[str, str], Mapping[str, str] | None]
EventSink = Callable[[Emit], None]


@dataclass
class Controller:
    """Observes one RenderJob, reconciles it and applies the decision."""

    executor: Executor
    storage: Storage
    settings: Settings
    read_config_map: ConfigMapReader
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def layout(self) -> Layout:
        return Layout(self.settings.storage_root)

    def step(
        self, job: JobRef, spec: Mapping[str, Any], status: Mapping[str, Any], emit: EventSink
    ) -> Status:
        """One reconcile pass; returns the status to write.

        The one boundary between the dicts of Kubernetes (or ``chalkline run``)
        and the typed views: the status is read here and the spec in
        :meth:`observe`, once each; the reconciler's decision carries the status
        to write as its dict again, which :meth:`apply` completes.
        """
        current = RenderJobStatus.from_dict(status)
        if current.observed_generation == job.generation and current.finished:
            return dict(status)
        decision = reconcile(self.observe(job, spec, current), self.settings)
        return self.apply(decision, emit)

    def observe(self, job: JobRef, spec: Mapping[str, Any], status: RenderJobStatus) -> Observed:
        """What the reconciler needs, with ``spec`` parsed (the only parse of a pass)."""
        new_generation = status.observed_generation != job.generation
        parsed = _parse(spec)
        observed = Observed(
            job=job,
            spec=parsed,
            status=status,
            now=self.clock(),
            render=self._poll(status.execution.render),
            stitch=self._poll(status.execution.stitch),
            stored=self._stored_manifests(job),
        )
        if isinstance(parsed, InvalidSpec):
            return observed  # the reconciler reports it
        try:
            if parsed.stitch_only and (new_generation or status.phase == "Stitching"):
                return _replace(observed, clips=self._probe_clips(parsed))
            if not parsed.stitch_only and new_generation:
                return _replace(observed, script=self._read_script(job, parsed))
        except ChalklineError as err:
            return _replace(observed, source_error=err)
        return observed

    def apply(self, decision: Decision, emit: EventSink) -> Status:
        status = decision.status
        execution = (
            status.setdefault("execution", {}) if status.get("execution") is not None else {}
        )
        for action in decision.actions:
            if isinstance(action, StageScript):
                if not self.storage.exists(action.uri):
                    self.storage.write_bytes(action.uri, action.text.encode())
            elif isinstance(action, LaunchRender):
                execution["render"] = self.executor.launch_render(
                    action.key,
                    list(action.work),
                    action.parallelism,
                    scratch_uri=action.scratch_uri,
                    owner=action.owner,
                )
            elif isinstance(action, LaunchStitch):
                execution["stitch"] = self.executor.launch_stitch(
                    action.key, action.work, owner=action.owner
                )
            elif isinstance(action, Cancel):
                self.executor.cancel(action.handle)
            elif isinstance(action, SignVideoUrl):
                status.update(self._sign_video_url(action, emit))
            else:
                emit(action)
        return status

    def _sign_video_url(self, action: SignVideoUrl, emit: EventSink) -> dict[str, str]:
        """``videoUrl`` and ``videoUrlExpires``, or nothing and a Warning that says why.

        The video is published when this runs, so nothing here may fail the
        job: any error becomes the Warning. The expiry is counted from before
        signing, so the link lives at least until the time written.
        """
        signed_at = self.clock()
        expires = timedelta(seconds=action.seconds)
        try:
            url = self.storage.signed_url(action.uri, expires)
        except Exception as err:  # the render is done; a missing link is only a Warning
            why = f"signing failed: {err}"
        else:
            if url is not None:
                return {"videoUrl": url, "videoUrlExpires": now_text(signed_at + expires)}
            why = (
                "a file:// video has no URL; signedUrlSeconds applies to gs:// outputs"
                if action.uri.startswith("file://")
                else "the operator's Google credentials cannot sign (no private key: an "
                "emulator's anonymous or a user's credentials); run it as a service account "
                "with iam.serviceAccounts.signBlob on itself (roles/iam.serviceAccountTokenCreator)"
            )
        message = f"no signed URL for {action.uri} (status.videoUri still names it): {why}"
        emit(Emit("Warning", "VideoUrlUnavailable", message))
        return {}

    def clean_up(self, job: JobRef, status: Mapping[str, Any]) -> int:
        """On delete: stop running work, release the executions and remove
        intermediates (never the video).

        Cancelling is asynchronous (on Cloud Run certainly): a task finishing
        in the gap would write its clip after the prefix was deleted. So wait,
        boundedly, until the executions have stopped, then delete; whatever
        still runs after ``CANCEL_WAIT_SECONDS`` cannot hold the finalizer.
        """
        execution = RenderJobStatus.from_dict(status).execution
        handles = [handle for handle in (execution.render, execution.stitch) if handle]
        for handle in handles:
            self.executor.cancel(handle)
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline and any(self._still_running(h) for h in handles):
            time.sleep(CANCEL_POLL_SECONDS)
        for handle in handles:
            self.executor.release(handle)
        return self.storage.delete_prefix(self.layout.staging(job))

    def _still_running(self, handle: str) -> bool:
        report = self.executor.poll(handle)
        return report.phase == "Running"

    # --- observations ----------------------------------------------------------

    def _poll(self, handle: str | None) -> ExecutionReport | None:
        return self.executor.poll(handle) if handle else None

    def _stored_manifests(self, job: JobRef) -> dict[str, ClipManifest]:
        found: dict[str, ClipManifest] = {}
        for uri in self.storage.list(self.layout.clips(job)):
            if not is_manifest(uri):
                continue
            try:
                manifest = read_manifest(self.storage, uri)
            except (ChalklineError, ValueError, TypeError):
                continue  # half-visible or foreign files are re-rendered, not trusted
            clip = clip_of_manifest(uri)
            if not manifest.has_clip or self.storage.exists(clip):
                found[clip] = manifest
        return found

    def _read_script(self, job: JobRef, spec: RenderJobSpec) -> str:
        source = spec.source
        assert source is not None
        if source.inline is not None:
            return source.inline
        if source.uri is not None:
            return _decode(self.storage.read_bytes(source.uri), source.uri)
        ref = source.config_map_key_ref
        assert ref is not None
        data = self.read_config_map(job.namespace, ref.name)
        if data is None:
            raise SourceNotFound(
                f"ConfigMap {job.namespace}/{ref.name} not found",
                hint="create it in the RenderJob's namespace (kubectl create configmap "
                f"{ref.name} --from-file={ref.key}=SCRIPT.py)",
            )
        if ref.key not in data:
            keys = ", ".join(sorted(data)) or "none"
            raise SourceNotFound(
                f"ConfigMap {job.namespace}/{ref.name} has no key {ref.key!r}",
                hint=f"keys it has: {keys}",
            )
        script = data[ref.key]
        if len(script.encode()) > MAX_CONFIG_MAP_SCRIPT_BYTES:
            raise SourceNotFound(
                f"ConfigMap {job.namespace}/{ref.name} key {ref.key!r} is larger than 1 MiB"
            )
        return script

    def _probe_clips(self, spec: RenderJobSpec) -> tuple[ClipStats, ...]:
        """Each clip's facts from its headers, read in place, never by downloading it.

        The operator's pod has little disk and clips can be hundreds of MB: a
        remote clip is read through ranged reads of what FFmpeg asks for.
        """
        stats = []
        for uri in spec.clips:
            local = self.storage.local_path(uri)
            if local is not None:
                info = probe_clip(local)
            else:
                with self.storage.open_read(uri) as stream:
                    info = probe_stream(stream, uri)
            stats.append(
                ClipStats(
                    uri,
                    info.size_bytes,
                    info.width,
                    info.height,
                    info.duration,
                    float(info.fps),
                    info.has_audio,
                )
            )
        return tuple(stats)


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``old`` status into ``new`` (``None`` removes a key)."""
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch


def _parse(spec: Mapping[str, Any]) -> RenderJobSpec | InvalidSpec:
    try:
        return parse_spec(spec)
    except InvalidSpec as err:
        return err


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceNotFound(f"{where} is not UTF-8 text; is it really a Python script?") from None


def _replace(observed: Observed, **changes: Any) -> Observed:
    return dataclasses.replace(observed, **changes)
