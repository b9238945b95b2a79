"""Benchmark: `chalkline render` against `manim render -a` on the same script.

Both run as commands, from a fresh media folder each time (no cache hits),
alternating so that drift in the machine's speed hits both alike. Prints the
median wall time of each, the ratio chalkline / manim (target <= 1.0), and the
overhead per task: (chalkline with one worker - manim -a) / number of scenes,
which is what running each scene as its own task costs (fork, per-scene setup,
manifest, stitch share).

    .venv/bin/python bench/render_parallel.py [--script examples/shapes.py]
        [--quality low --quality medium] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def manim_all(script: Path, quality: str, work: Path) -> float:
    flag = {"low": "-ql", "medium": "-qm", "high": "-qh", "4k": "-qk"}[quality]
    media = Path(tempfile.mkdtemp(dir=work))
    try:
        return timed(
            [str(BIN / "manim"), "render", flag, "-a", str(script), "--media_dir", str(media)]
        )
    finally:
        shutil.rmtree(media)


def chalkline(script: Path, quality: str, work: Path, workers: int | None) -> float:
    cache = Path(tempfile.mkdtemp(dir=work))
    command = [str(BIN / "chalkline"), "render", str(script), "-o", str(work / "out.mp4")]
    command += ["-q", quality, "--cache-dir", str(cache), "--no-progress"]
    if workers:
        command += ["--workers", str(workers)]
    try:
        return timed(command)
    finally:
        shutil.rmtree(cache)


def count_scenes(script: Path) -> int:
    from chalkline.core.scenes import discover_scenes_in_file

    return len(discover_scenes_in_file(script))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--script", type=Path, default=Path("examples/shapes.py"))
    parser.add_argument("--quality", action="append", choices=["low", "medium", "high", "4k"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    qualities = args.quality or ["low", "medium"]
    scenes = count_scenes(args.script)
    print(f"script {args.script}: {scenes} scenes; {args.repeat} runs each, medians")
    header = ("quality", "manim -a", "chalkline", "1 worker", "ratio", "overhead/task")
    widths = (8, 9, 10, 9, 6, 14)
    print(
        " ".join(
            f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    with tempfile.TemporaryDirectory(prefix="chalkline-bench-") as tmp:
        work = Path(tmp)
        for quality in qualities:
            runs: dict[str, list[float]] = {"manim": [], "chalkline": [], "one": []}
            for _ in range(args.repeat):
                runs["manim"].append(manim_all(args.script, quality, work))
                runs["chalkline"].append(chalkline(args.script, quality, work, None))
                runs["one"].append(chalkline(args.script, quality, work, 1))
            manim, ours, one = (statistics.median(runs[k]) for k in ("manim", "chalkline", "one"))
            overhead = (one - manim) / scenes
            print(
                f"{quality:<8} {manim:>8.2f}s {ours:>9.2f}s {one:>8.2f}s "
                f"{ours / manim:>6.2f} {overhead:>+13.3f}s"
            )


if __name__ == "__main__":
    main()
