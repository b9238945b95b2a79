"""The container images, checked from their Dockerfiles (no Docker engine here).

What matters in each: it runs as a non-root user, its entry point is the
`chalkline` command with the right default subcommand, fonts are installed,
its base image is pinned to an exact version, and it copies every folder the
package is built from, so no component goes missing from an image.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
#: Image -> its default command after ENTRYPOINT ["chalkline"].
DEFAULT_COMMANDS = {
    "worker": ["worker"],
    "worker-latex": ["worker"],
    "stitcher": ["stitch"],
    "operator": ["operator", "--all-namespaces"],
}
PINNED_BASE = re.compile(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(path: Path) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    found = []
    for line in joined:
        keyword, _, arguments = line.strip().partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
    return found


def final_stage(path: Path) -> list[Instruction]:
    """The instructions of the stage that becomes the image (after the last FROM)."""
    steps = instructions(path)
    last = max(i for i, step in enumerate(steps) if step.keyword == "FROM")
    return steps[last:]


def package_folders() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["package-dir"].values())


@pytest.fixture(params=sorted(DEFAULT_COMMANDS))
def image(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dockerfile(image: str) -> Path:
    return DOCKER / f"{image}.Dockerfile"


def test_every_dockerfile_is_checked() -> None:
    assert sorted(p.name for p in DOCKER.glob("*Dockerfile")) == sorted(
        f"{name}.Dockerfile" for name in DEFAULT_COMMANDS
    )
    assert not (ROOT / "Dockerfile").exists()


def test_it_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    users = [step.arguments for step in final_stage(dockerfile) if step.keyword == "USER"]
    assert users, "the image would run as root"
    assert users[-1].isdigit() and int(users[-1]) != 0  # runAsNonRoot needs a number


def test_it_runs_chalkline_with_its_default_subcommand(dockerfile: Path, image: str) -> None:
    stage = final_stage(dockerfile)
    entrypoints = [json.loads(s.arguments) for s in stage if s.keyword == "ENTRYPOINT"]
    commands = [json.loads(s.arguments) for s in stage if s.keyword == "CMD"]
    assert entrypoints[-1:] == [["chalkline"]]
    assert commands[-1:] == [DEFAULT_COMMANDS[image]]


def test_fonts_are_installed_in_the_image(dockerfile: Path) -> None:
    installs = " ".join(
        s.arguments
        for s in final_stage(dockerfile)
        if s.keyword == "RUN" and "install" in s.arguments
    )
    assert re.search(r"\bfonts-[a-z-]+", installs)


def test_every_base_image_is_pinned(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    stages = {
        s.arguments.split()[-1] for s in steps if s.keyword == "FROM" and " AS " in s.arguments
    }
    for step in steps:
        if step.keyword == "FROM":
            base = step.arguments.split()[0]
            assert base in stages or PINNED_BASE.fullmatch(base), f"{base} is not pinned"
            assert not base.endswith(":latest")


def test_every_package_folder_is_copied(dockerfile: Path) -> None:
    copies = [s.arguments.split() for s in instructions(dockerfile) if s.keyword == "COPY"]
    sources = {
        part.rstrip("/") for args in copies if not args[0].startswith("--") for part in args[:-1]
    }

    def copied(folder: str) -> bool:  # by itself or with a folder it is inside
        return any(folder == s or folder.startswith(f"{s}/") for s in sources)

    assert "pyproject.toml" in sources
    assert [folder for folder in sorted(package_folders()) if not copied(folder)] == []


def test_the_latex_worker_has_what_mathtex_needs() -> None:
    installs = " ".join(s.arguments for s in final_stage(DOCKER / "worker-latex.Dockerfile"))
    for package in ["texlive-latex-base", "texlive-latex-extra", "dvisvgm"]:
        assert package in installs


def test_the_stitcher_installs_every_dependency_but_manim_and_the_operators() -> None:
    run = next(
        s.arguments
        for s in instructions(DOCKER / "stitcher.Dockerfile")
        if s.keyword == "RUN" and "tomllib" in s.arguments
    )
    program = re.search(r'python -c "(.*?)" >', run)
    assert program is not None
    listed = subprocess.run(
        [sys.executable, "-c", program.group(1)],  # the shell passes it through unchanged
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    skipped = {"manim", "kopf", "kubernetes"}
    assert listed == [d for d in declared if re.split(r"[<>=!~ ;\[]", d)[0] not in skipped]
    assert "--no-deps ." in run
