"""The embedded executor: render tasks in a warm process pool, stitch in threads.

One :class:`~chalkline.worker.pool.WarmPool` bounds the whole machine: tasks of
every execution share its ``workers`` slots, and one dispatcher thread owns it
(the pool is not thread-safe). Launch, poll and cancel only exchange messages
with that thread, so Kopf's handlers never block on a render.

Executions live in this process's memory: after a restart every handle is
``Unknown`` and the reconciler re-plans from what storage holds. The pool's
children die with the process, so nothing keeps rendering unobserved.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from chalkline.core.errors import ChalklineError
from chalkline.core.layout import JobRef, basename, manifest_uri
from chalkline.core.records import ClipManifest, write_manifest
from chalkline.executors.base import (
    ExecutionPhase,
    ExecutionReport,
    RenderWork,
    StitchWork,
    TaskPhase,
    TaskReport,
)
from chalkline.stitcher.planned_stitch import StitchCancelled, run_stitch
from chalkline.storage.base import Storage
from chalkline.worker.pool import TaskEvent, WarmPool
from chalkline.worker.task import RenderTask

IDLE_SECONDS = 0.2
logger = logging.getLogger(__name__)


@dataclass
class _Execution:
    handle: str
    tasks: dict[int, TaskReport]
    phase: ExecutionPhase = "Running"
    message: str = ""
    reason: str = ""
    details: dict[str, str] = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def report(self) -> ExecutionReport:
        return ExecutionReport(
            handle=self.handle,
            phase=self.phase,
            tasks=tuple(self.tasks[i] for i in sorted(self.tasks)),
            message=self.message,
            reason=self.reason,
            details=dict(self.details),
        )


@dataclass(frozen=True)
class _Slot:
    """Where a pool task belongs: its execution, its index there, its work."""

    handle: str
    work: RenderWork
    started: float = 0.0


class LocalExecutor:
    """Runs renders and stitches on this machine; see the module docstring."""

    name = "local"

    def __init__(self, storage: Storage, cache_dir: Path, workers: int) -> None:
        self.storage = storage
        self.cache_dir = cache_dir
        self.workers = workers
        self._executions: dict[str, _Execution] = {}
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self._commands: queue.Queue[Callable[[WarmPool], None]] = queue.Queue()
        self._slots: dict[int, _Slot] = {}
        self._scratch = Path(tempfile.mkdtemp(prefix="chalkline-executor-"))
        self._closed = threading.Event()
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="chalkline-local", daemon=True
        )
        self._dispatcher.start()

    # --- the Executor contract -------------------------------------------------

    def launch_render(
        self,
        key: str,
        work: list[RenderWork],
        parallelism: int,
        *,
        scratch_uri: str,
        owner: JobRef | None = None,
    ) -> str:
        """Queue ``work`` on the pool; ``scratch_uri`` is not needed on this machine."""
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            handle = f"local-render-{uuid.uuid4().hex[:12]}"
            tasks = {w.index: TaskReport(w.index, "Pending") for w in work}
            self._executions[handle] = _Execution(handle, tasks)
            self._by_key[key] = handle
        self._commands.put(lambda pool: self._submit(pool, handle, work))
        return handle

    def launch_stitch(self, key: str, work: StitchWork, *, owner: JobRef | None = None) -> str:
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            handle = f"local-stitch-{uuid.uuid4().hex[:12]}"
            execution = _Execution(handle, {})
            self._executions[handle] = execution
            self._by_key[key] = handle
        threading.Thread(
            target=self._stitch, args=(execution, work), name=handle, daemon=True
        ).start()
        return handle

    def poll(self, handle: str) -> ExecutionReport:
        with self._lock:
            execution = self._executions.get(handle)
            if execution is None:
                return ExecutionReport(handle, "Unknown", message="not known to this operator")
            return execution.report()

    def cancel(self, handle: str) -> None:
        with self._lock:
            execution = self._executions.get(handle)
        if execution is None or execution.phase != "Running":
            return
        execution.cancelled.set()
        self._commands.put(lambda pool: self._cancel_in_pool(pool, handle))

    def release(self, handle: str) -> None:
        """Forget the execution; its files were scratch, already removed."""
        with self._lock:
            execution = self._executions.get(handle)
            if execution is not None and execution.phase != "Running":
                del self._executions[handle]

    def close(self) -> None:
        self._closed.set()
        self._dispatcher.join(timeout=10)
        shutil.rmtree(self._scratch, ignore_errors=True)

    # --- the dispatcher thread -------------------------------------------------

    def _dispatch(self) -> None:
        with WarmPool(self.workers) as pool:
            while not self._closed.is_set():
                try:
                    self._dispatch_once(pool)
                except Exception as err:  # a dead dispatcher would hang every job silently
                    logger.exception("local executor: dispatching failed")
                    self._fail_everything(pool, f"the local executor failed: {err}")
                    time.sleep(IDLE_SECONDS)

    def _dispatch_once(self, pool: WarmPool) -> None:
        self._run_commands(pool)
        if not pool.busy:
            time.sleep(IDLE_SECONDS)
            return
        for event in pool.poll(timeout=IDLE_SECONDS):
            self._on_event(event)

    def _fail_everything(self, pool: WarmPool, message: str) -> None:
        """Report every task in flight as failed, so jobs end with a reason."""
        pool.cancel()
        for ticket in list(self._slots):
            self._finish_task(ticket, "Failed", message)

    def _run_commands(self, pool: WarmPool) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command(pool)

    def _submit(self, pool: WarmPool, handle: str, work: list[RenderWork]) -> None:
        folder = self._scratch / handle
        folder.mkdir(parents=True, exist_ok=True)
        try:
            scripts = {
                item.script_uri: self._local_script(item.script_uri, folder) for item in work
            }
        except ChalklineError as err:
            self._fail_unstarted(handle, f"cannot fetch the script: {err}")
            return
        tasks = [
            RenderTask(
                index=item.index,
                script=scripts[item.script_uri],
                scene=item.scene,
                quality=item.quality,
                output_dir=folder,
                media_dir=self.cache_dir / item.cache_key / item.scene / item.quality,
                clip_name=basename(item.clip_uri),
            )
            for item in work
        ]
        for ticket, item in zip(pool.submit(tasks), work, strict=True):
            self._slots[ticket] = _Slot(handle, item)

    def _fail_unstarted(self, handle: str, message: str) -> None:
        with self._lock:
            execution = self._executions[handle]
            for index in execution.tasks:
                execution.tasks[index] = TaskReport(index, "Failed", message=message)
        self._conclude(handle)

    def _local_script(self, uri: str, folder: Path) -> Path:
        local = self.storage.local_path(uri)
        if local is not None:
            return local
        target = folder / basename(uri)
        if not target.exists():
            self.storage.download(uri, target)
        return target

    def _cancel_in_pool(self, pool: WarmPool, handle: str) -> None:
        mine = {ticket for ticket, slot in self._slots.items() if slot.handle == handle}
        pool.cancel(mine)
        for ticket in mine:
            self._finish_task(ticket, "Cancelled", "cancelled")

    def _on_event(self, event: TaskEvent) -> None:
        slot = self._slots.get(event.ticket)
        if slot is None:
            return
        if event.kind == "started":
            self._slots[event.ticket] = replace(slot, started=time.monotonic())
            self._mark_running(slot.handle, slot.work.index)
        elif event.kind == "done" and event.manifest is not None:
            self._publish_clip(event, slot)
        elif event.kind in ("failed", "cancelled"):
            phase: TaskPhase = "Failed" if event.kind == "failed" else "Cancelled"
            self._finish_task(event.ticket, phase, event.error or event.kind)

    def _publish_clip(self, event: TaskEvent, slot: _Slot) -> None:
        """Move a finished clip and its manifest to the storage the job asked for.

        The worker named the clip as the job's layout does, so both are stored
        as they are.
        """
        manifest = event.manifest
        assert manifest is not None
        try:
            if manifest.has_clip:
                local = self._scratch / slot.handle / manifest.clip
                self.storage.upload(local, slot.work.clip_uri)
            write_manifest(self.storage, manifest_uri(slot.work.clip_uri), manifest)
        except ChalklineError as err:
            self._finish_task(event.ticket, "Failed", f"cannot store the clip: {err}")
            return
        seconds = time.monotonic() - slot.started if slot.started else manifest.render_seconds
        self._finish_task(event.ticket, "Succeeded", "", manifest, seconds)

    def _finish_task(
        self,
        ticket: int,
        phase: TaskPhase,
        message: str,
        manifest: ClipManifest | None = None,
        seconds: float = 0.0,
    ) -> None:
        slot = self._slots.pop(ticket, None)
        if slot is None:
            return
        with self._lock:
            execution = self._executions[slot.handle]
            execution.tasks[slot.work.index] = TaskReport(
                slot.work.index, phase, round(seconds, 3), message, manifest
            )
        if not any(s.handle == slot.handle for s in self._slots.values()):
            self._conclude(slot.handle)

    def _mark_running(self, handle: str, index: int) -> None:
        with self._lock:
            execution = self._executions[handle]
            execution.tasks[index] = replace(execution.tasks[index], phase="Running")

    def _conclude(self, handle: str) -> None:
        with self._lock:
            execution = self._executions[handle]
            phases = {t.phase for t in execution.tasks.values()}
            if execution.cancelled.is_set():
                execution.phase = "Cancelled"
            elif phases == {"Succeeded"}:
                execution.phase = "Succeeded"
            else:
                execution.phase = "Failed"
                failed = [t for t in execution.tasks.values() if t.phase == "Failed"]
                execution.message = failed[0].message if failed else "tasks did not finish"
                execution.reason = "RenderFailed"
        shutil.rmtree(self._scratch / handle, ignore_errors=True)

    # --- stitches ----------------------------------------------------------------

    def _stitch(self, execution: _Execution, work: StitchWork) -> None:
        folder = self._scratch / execution.handle
        folder.mkdir(parents=True, exist_ok=True)
        try:
            details = run_stitch(
                self.storage, work.clip_uris, work.output_uri, folder, execution.cancelled.is_set
            )
        except ChalklineError as err:
            outcome: tuple[ExecutionPhase, str, str, dict[str, str]] = (
                "Failed",
                str(err),
                err.reason,
                {},
            )
        except StitchCancelled:
            outcome = ("Cancelled", "cancelled", "Cancelled", {})
        else:
            outcome = ("Succeeded", "", "", details)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        with self._lock:
            execution.phase, execution.message, execution.reason, execution.details = outcome
