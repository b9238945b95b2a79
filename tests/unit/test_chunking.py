"""Chunks of a scene balanced by cost: the policy as a table of cases."""

from __future__ import annotations

import itertools

import pytest

from chalkline.core.chunking import ChunkCosts, covers, plan_chunks


def costs(
    *run_times: float, skip: float = 0.0, rate: float = 1.0, overhead: float = 0.0
) -> ChunkCosts:
    return ChunkCosts(tuple(run_times), skip, rate, overhead)


@pytest.mark.parametrize(
    ("scene", "max_chunks", "expected"),
    [
        (costs(1, 1, 1, 1), 4, [(0, 0), (1, 1), (2, 2), (3, 3)]),
        (costs(1, 1, 1, 1), 2, [(0, 1), (2, 3)]),
        (costs(1, 1, 1, 1), 1, [(0, 3)]),
        (costs(4, 1, 1, 1, 1), 4, [(0, 0), (1, 4)]),  # the long first animation bounds it
        (costs(1), 8, [(0, 0)]),
        (costs(), 8, []),
        # Skipping costs: later chunks start more expensive, so they draw less.
        (costs(1, 1, 1, 1, 1, 1, skip=0.5), 2, [(0, 3), (4, 5)]),
        # A start-up cost larger than the work: splitting cannot help.
        (costs(0.1, 0.1, 0.1, overhead=5), 3, [(0, 2)]),
    ],
)
def test_chunks_balance_the_largest_cost(
    scene: ChunkCosts, max_chunks: int, expected: list[tuple[int, int]]
) -> None:
    assert plan_chunks(scene, max_chunks) == expected


def brute_force(scene: ChunkCosts, max_chunks: int) -> float:
    """The best largest-cost over every way to cut the scene into at most max_chunks."""
    count = len(scene.run_times)
    best = float("inf")
    for k in range(1, max_chunks + 1):
        for cuts in itertools.combinations(range(1, count), k - 1):
            bounds = [0, *cuts, count]
            plan = [(bounds[i], bounds[i + 1] - 1) for i in range(k)]
            best = min(best, max(scene.of(chunk) for chunk in plan))
    return best


@pytest.mark.parametrize("skip", [0.0, 0.2, 1.5])
@pytest.mark.parametrize("max_chunks", [1, 2, 3, 5])
def test_the_plan_is_as_good_as_trying_every_cut(skip: float, max_chunks: int) -> None:
    scene = costs(0.5, 2, 1, 0.25, 3, 1, 1, 0.5, skip=skip, rate=1.3, overhead=0.4)
    plan = plan_chunks(scene, max_chunks)
    assert covers(plan, len(scene.run_times)) and len(plan) <= max_chunks
    best = brute_force(scene, max_chunks)
    assert best <= max(scene.of(chunk) for chunk in plan) <= best * 1.1 + 1e-9


def test_fewer_chunks_are_taken_when_they_are_nearly_as_fast() -> None:
    scene = costs(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, overhead=1)
    assert len(plan_chunks(scene, 10, tolerance=0.0)) == 10  # 2 s each, the fastest
    assert len(plan_chunks(scene, 10, tolerance=0.5)) == 5  # 3 s each: half the tasks
