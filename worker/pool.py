"""A bounded pool that renders each task in a fresh child of a warm parent.

Why not ``ProcessPoolExecutor``: running tasks must be killable (a failing
scene cancels the others, Ctrl-C stops everything, the operator cancels work of
an old generation), and each task needs a process of its own because Manim
keeps global state. The standard library's *forkserver* gives the warm parent:
it imports Manim once (see :mod:`chalkline.worker.warm`) and forks a child per
task, so no task pays Manim's import again.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Literal

from chalkline.core.errors import ChalklineError, RenderFailed
from chalkline.core.records import ClipManifest
from chalkline.worker.task import RenderTask

EventKind = Literal["started", "progress", "done", "failed", "cancelled"]

#: "__main__" first: the fork server imports the program's main module once (the CLI,
#: for `chalkline ...`), so no forked task imports it again; then Manim, warm.
_PRELOAD = ["__main__", "chalkline.worker.warm"]


@dataclass(frozen=True)
class TaskEvent:
    """Something that happened to one task; the pool's only output.

    ``index`` is the task's own (its place in its job); ``ticket`` is the
    pool's name for it, unique among everything one pool was given, so tasks
    of several jobs with the same indexes can share a pool.
    """

    index: int
    scene: str
    kind: EventKind
    plays: int = 0
    manifest: ClipManifest | None = None
    error: str | None = None
    ticket: int = 0


@dataclass
class _Running:
    task: RenderTask
    process: BaseProcess
    conn: Connection
    started: float
    finished: bool = False


@dataclass
class WarmPool:
    """Run at most ``workers`` tasks at once; report progress as :class:`TaskEvent`."""

    workers: int
    _queue: deque[tuple[int, RenderTask]] = field(default_factory=deque)
    _running: dict[int, _Running] = field(default_factory=dict)
    _tickets: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("a pool needs at least one worker")
        self._context = _warm_context()

    def warm_up(self) -> None:
        """Start the fork server now, so Manim imports while the caller plans."""
        multiprocessing.forkserver.ensure_running()

    def submit(self, tasks: Iterable[RenderTask]) -> list[int]:
        """Queue ``tasks``; return their tickets, in order (see :class:`TaskEvent`)."""
        queued = [(next(self._tickets), task) for task in tasks]
        self._queue.extend(queued)
        return [ticket for ticket, _ in queued]

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._running)

    def poll(self, timeout: float = 0.5) -> list[TaskEvent]:
        """Start queued tasks into free slots, then wait up to ``timeout`` for news."""
        events = self._start_queued()
        if not self._running:
            return events
        waitables: list[Connection | int] = [r.conn for r in self._running.values()]
        waitables += [r.process.sentinel for r in self._running.values()]
        multiprocessing.connection.wait(waitables, timeout=timeout)
        for ticket in list(self._running):
            events.extend(self._collect(ticket))
        return events

    def cancel(self, tickets: Collection[int] | None = None) -> list[TaskEvent]:
        """Drop queued tasks and kill running ones (all, or those of ``tickets``).

        Killed tasks have the partial files they wrote discarded.
        """

        def chosen(ticket: int) -> bool:
            return tickets is None or ticket in tickets

        events = [_event(t, task, "cancelled") for t, task in self._queue if chosen(t)]
        self._queue = deque((t, task) for t, task in self._queue if not chosen(t))
        for ticket, running in list(self._running.items()):
            if not chosen(ticket):
                continue
            _stop(running.process)
            discard_partial_movies(running.task.media_dir, since=running.started)
            running.conn.close()
            del self._running[ticket]
            events.append(_event(ticket, running.task, "cancelled"))
        return events

    def close(self) -> None:
        self.cancel()

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_queued(self) -> list[TaskEvent]:
        events = []
        while self._queue and len(self._running) < self.workers:
            ticket, task = self._queue.popleft()
            receiver, sender = self._context.Pipe(duplex=False)
            process = self._context.Process(
                target=_child_main, args=(task, sender), name=f"chalkline-{task.scene}"
            )
            process.start()
            sender.close()
            self._running[ticket] = _Running(task, process, receiver, time.time())
            events.append(_event(ticket, task, "started"))
        return events

    def _collect(self, ticket: int) -> list[TaskEvent]:
        running = self._running[ticket]
        events: list[TaskEvent] = []
        try:
            while running.conn.poll():
                events.append(_decode(ticket, running.task, running.conn.recv()))
        except (EOFError, OSError):
            pass
        if any(e.kind in ("done", "failed") for e in events):
            running.finished = True
        if not running.process.is_alive():
            running.process.join()
            if not running.finished:
                events.append(_died(ticket, running))
            running.conn.close()
            del self._running[ticket]
        return events


def run_tasks(
    pool: WarmPool,
    tasks: list[RenderTask],
    on_event: Callable[[TaskEvent], None] = lambda _: None,
) -> list[ClipManifest]:
    """Render every task on ``pool``; on the first failure cancel the rest and raise it.

    Ctrl-C (KeyboardInterrupt) also cancels every running task before it
    propagates. Returns the manifests in task order.
    """
    manifests: dict[int, ClipManifest] = {}
    with pool as active:
        active.submit(tasks)
        try:
            while active.busy:
                for event in active.poll():
                    on_event(event)
                    if event.kind == "failed":
                        for cancelled in active.cancel():
                            on_event(cancelled)
                        raise RenderFailed(event.error or f"scene {event.scene!r} failed")
                    if event.kind == "done" and event.manifest is not None:
                        manifests[event.index] = event.manifest
        except BaseException:
            active.cancel()
            raise
    return [manifests[t.index] for t in tasks]


def discard_partial_movies(media_dir: Path, since: float) -> None:
    """Remove files a killed task may have left half-written in Manim's cache.

    Manim re-uses a partial movie file whenever one with the right hash exists,
    so a truncated one would poison every later render of that scene.
    """
    if not media_dir.exists():
        return
    for path in media_dir.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mtime >= since - 1:
                path.unlink()
        except OSError:
            continue


def _warm_context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(_PRELOAD)
    return context


def _child_main(task: RenderTask, conn: Connection) -> None:
    """Entry point of a forked task: render, report over ``conn``, never raise."""
    # The parent owns Ctrl-C: it stops children itself, without their tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from chalkline.worker.render import render_task

    try:
        manifest = render_task(task, on_progress=lambda plays: conn.send(("progress", plays)))
        conn.send(("done", manifest))
    except ChalklineError as err:
        conn.send(("failed", str(err)))
    except BaseException as err:  # a bug of ours: still report it, with its traceback
        text = "".join(traceback.format_exception(err)).rstrip()
        conn.send(("failed", f"scene {task.scene!r}: internal error\n{text}"))
    finally:
        conn.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this task if the fork server goes (it goes with its owner).

    Without it, a killed operator would leave scenes rendering that nobody
    will collect, and a restarted one would render them a second time.
    """
    if sys.platform != "linux":
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _event(ticket: int, task: RenderTask, kind: EventKind, **news: object) -> TaskEvent:
    return TaskEvent(task.index, task.scene, kind, ticket=ticket, **news)  # type: ignore[arg-type]


def _decode(ticket: int, task: RenderTask, message: tuple[str, object]) -> TaskEvent:
    kind, payload = message
    if kind == "progress":
        return _event(ticket, task, "progress", plays=int(str(payload)))
    if kind == "done":
        assert isinstance(payload, ClipManifest)
        return _event(ticket, task, "done", manifest=payload)
    return _event(ticket, task, "failed", error=str(payload))


def _died(ticket: int, running: _Running) -> TaskEvent:
    """The child exited without a word: name the signal, the usual culprit."""
    code = running.process.exitcode
    if code is not None and code < 0:
        cause = f"killed by {signal.Signals(-code).name}"
        if -code == signal.SIGKILL:
            cause += " (often the out-of-memory killer: try fewer --workers or a lower quality)"
    else:
        cause = f"exited with code {code}"
    return _event(
        ticket,
        running.task,
        "failed",
        error=f"worker for scene {running.task.scene!r} died: {cause}",
    )


def _stop(process: BaseProcess, grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL if the child does not go within ``grace`` seconds."""
    if process.is_alive():
        process.terminate()
        process.join(grace)
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGKILL)
        process.join()
