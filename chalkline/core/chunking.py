"""Split a scene into chunks of animations whose costs are balanced: a pure function.

Rendering a scene is bounded by its longest scene; splitting that scene into
animation ranges (Manim's ``-n START,END``) lets several workers share it.
But every chunk re-runs ``construct()`` from the start and skips the
animations before START, so later chunks pay more before they draw a frame.
Chunks are therefore balanced by estimated cost, not by count:

    cost(START..END) = overhead + skip_seconds_per_animation * START
                       + render_seconds_per_video_second * sum(run_times[START..END])

and the plan is the fewest chunks (at most ``max_chunks``) whose largest cost
is as small as it can be: the wall time of the scene when every chunk runs at
once. The figures come from a dry pass in the worker (run times, skip cost)
and from measured render rates; nothing here runs Manim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AnimationRange = tuple[int, int]
#: A plan with fewer chunks is taken when its wall time is within this much of the best.
TOLERANCE = 0.1


@dataclass(frozen=True)
class ChunkCosts:
    """What one chunk costs to render, in seconds of a worker's time."""

    #: Seconds of video per animation, in order (every play and wait counts).
    run_times: tuple[float, ...]
    #: Skipping one animation in construct() (the dry pass's seconds / animations).
    skip_per_animation: float
    #: Render seconds per second of video at the task's quality.
    render_rate: float
    #: What any task costs before it renders (start-up, fetching, storing).
    overhead: float

    def of(self, chunk: AnimationRange) -> float:
        start, end = chunk
        drawn = sum(self.run_times[start : end + 1])
        return self.overhead + self.skip_per_animation * start + self.render_rate * drawn


def plan_chunks(
    costs: ChunkCosts, max_chunks: int, tolerance: float = TOLERANCE
) -> list[AnimationRange]:
    """Contiguous animation ranges covering the scene, at most ``max_chunks`` of them:
    the fewest chunks whose largest cost is within ``tolerance`` of the smallest
    largest cost any plan reaches.

    So one chunk (the whole scene) when splitting cannot make the scene finish
    clearly sooner, e.g. when each task's overhead outweighs the work it
    shares: every chunk is a task that costs a worker. A dynamic programme
    over (chunks, last animation), O(max_chunks * animations^2): a greedy
    cut is not optimal here, since starting a chunk later adds skip cost.
    """
    count = len(costs.run_times)
    if count == 0:
        return []
    limit = max(1, min(max_chunks, count))
    # best[j][e]: the smallest largest-cost covering animations 0..e with j+1 chunks;
    # cut[j][e]: where that plan's last chunk starts.
    best = [[costs.of((0, e)) for e in range(count)]]
    cut = [[0] * count]
    for _ in range(1, limit):
        previous = best[-1]
        row, starts = [], []
        for end in range(count):
            options = [
                (max(previous[start - 1], costs.of((start, end))), start)
                for start in range(1, end + 1)
            ]
            value, start = min(options, default=(previous[end], cut[-1][end]))
            row.append(value)
            starts.append(start)
        best.append(row)
        cut.append(starts)
    finals = [row[count - 1] for row in best]
    good_enough = min(finals) * (1 + tolerance)
    chunks = next(j for j, value in enumerate(finals) if value <= good_enough)
    return _unwind(cut, chunks, count)


def _unwind(cut: list[list[int]], chunks: int, count: int) -> list[AnimationRange]:
    plan: list[AnimationRange] = []
    end = count - 1
    for j in range(chunks, -1, -1):
        start = cut[j][end] if j > 0 else 0
        plan.append((start, end))
        end = start - 1
        if end < 0:
            break
    return list(reversed(plan))


def covers(chunks: Sequence[AnimationRange], count: int) -> bool:
    """True when ``chunks`` are contiguous, in order, and cover animations 0..count-1."""
    expected = 0
    for start, end in chunks:
        if start != expected or end < start:
            return False
        expected = end + 1
    return expected == count
