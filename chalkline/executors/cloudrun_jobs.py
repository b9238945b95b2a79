"""Cloud Run Job definitions as configuration: what the operator declares, and their checks.

Cloud Run cannot change CPU or memory per execution (only env, args, task
count and timeout), so every size of work is its own Job: one render Job per
quality (``chalkline-render-<quality>``) and one stitch Job per tier
(``chalkline-stitch-<tier>``). :func:`desired_jobs` builds them all from a
:class:`CloudRunConfig` and the tier table; :func:`owned_fields` is what
``ensure_jobs`` compares, so a Job is updated only when something we set differs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.cloud import run_v2

from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import format_cpu, parse_cpu, parse_memory_gib
from chalkline.executors.render_sizes import DEFAULT_RENDER_SIZES, RenderSize, render_sizes_with
from chalkline.stitcher.tier_table import load_tier_table

ENDPOINT_ENV = "CHALKLINE_CLOUDRUN_ENDPOINT"
PROJECT_ENV = "CHALKLINE_CLOUDRUN_PROJECT"
REGION_ENV = "CHALKLINE_CLOUDRUN_REGION"
_DOCS_HINT = "see docs/configuration.md, section 'Cloud Run'"

#: vCPU counts a Cloud Run job may have, and the memory (GiB) each allows (inclusive).
CPU_MEMORY_GIB: dict[float, tuple[float, float]] = {
    1: (0.5, 4),
    2: (0.5, 8),
    4: (2, 16),
    6: (4, 24),
    8: (4, 32),
}


@dataclass(frozen=True)
class Resources(RenderSize):
    """A container's limits as Cloud Run takes them: ``cpu="2"``, ``memory="4Gi"``."""

    @classmethod
    def of(cls, container: run_v2.Container) -> Resources | None:
        """The limits a container reports, or None unless both are there as quantities.

        A cost computed from a guessed size would look exact; None says "cannot tell".
        """
        limits = container.resources.limits
        found = cls(limits.get("cpu", ""), limits.get("memory", ""))
        with contextlib.suppress(InvalidSpec):
            if found.vcpus and found.gib:  # both parse; the parsers refuse zero
                return found
        return None

    @property
    def vcpus(self) -> float:
        """``cpu`` as a number of vCPUs: ``"2"`` -> 2.0, ``"500m"`` -> 0.5."""
        return parse_cpu(self.cpu)

    @property
    def gib(self) -> float:
        """``memory`` in GiB: ``"4Gi"`` -> 4.0, ``"512Mi"`` -> 0.5."""
        return parse_memory_gib(self.memory)

    def check(self, what: str) -> None:
        """Refuse a combination Cloud Run would reject, before any Job is written."""
        cpu, memory = self.vcpus, self.gib
        if cpu not in CPU_MEMORY_GIB:
            raise InvalidSpec(
                f"{what}: Cloud Run jobs take 1, 2, 4, 6 or 8 vCPUs, not {self.cpu!r}",
                hint=_DOCS_HINT,
            )
        low, high = CPU_MEMORY_GIB[cpu]
        if not low <= memory <= high:
            raise InvalidSpec(
                f"{what}: {self.cpu} vCPU needs between {low:g} and {high:g} GiB of memory, "
                f"not {self.memory}",
                hint="more than 4 GiB needs 2 vCPUs, more than 8 needs 4, more than 16 needs 6, "
                "more than 24 needs 8; " + _DOCS_HINT,
            )


DEFAULT_RENDER_RESOURCES: dict[str, Resources] = {
    quality: Resources(size.cpu, size.memory) for quality, size in DEFAULT_RENDER_SIZES.items()
}


@dataclass(frozen=True)
class CloudRunConfig:
    """Everything the ``cloudrun`` executor needs; documented in docs/configuration.md."""

    project: str
    region: str
    image: str
    #: The stitch Jobs' image (e.g. the lighter stitcher image without Manim); None: ``image``.
    stitch_image: str | None = None
    service_account: str | None = None
    #: None: Google's endpoint with Application Default Credentials; http://... (an
    #: emulator) implies anonymous credentials.
    endpoint: str | None = None
    render_resources: Mapping[str, Resources] = field(
        default_factory=lambda: dict(DEFAULT_RENDER_RESOURCES)
    )
    task_timeout_s: int = 3600
    max_retries: int = 1
    #: Tasks of one execution that run at once (0: as many as Cloud Run allows).
    #: A Job setting: executions cannot override it.
    parallelism: int = 0
    render_job: str = "chalkline-render"
    stitch_job: str = "chalkline-stitch"
    #: The container's command; the Job's args pick the subcommand (worker, stitch).
    command: tuple[str, ...] = ("chalkline",)
    render_args: tuple[str, ...] = ("worker",)
    stitch_args: tuple[str, ...] = ("stitch",)
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=lambda: {"app": "chalkline"})
    tier_table: Path | None = None
    #: A poll reaches the Admin API at most this often per execution (read quota).
    poll_interval_s: float = 5.0

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def render_job_name(self, quality: str) -> str:
        return f"{self.render_job}-{quality}"

    def stitch_job_name(self, tier: str) -> str:
        return f"{self.stitch_job}-{tier}"

    def job_path(self, job_id: str) -> str:
        return f"{self.parent}/jobs/{job_id}"

    @classmethod
    def from_env(
        cls, image: str, env: Mapping[str, str] | None = None, **settings: Any
    ) -> CloudRunConfig:
        """A config whose project, region and endpoint come from ``CHALKLINE_CLOUDRUN_*``.

        Explicit ``settings`` win over the environment.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "project": env.get(PROJECT_ENV),
            "region": env.get(REGION_ENV),
            "endpoint": env.get(ENDPOINT_ENV) or None,
        }
        values.update({k: v for k, v in settings.items() if v is not None})
        for key, variable in (("project", PROJECT_ENV), ("region", REGION_ENV)):
            if not values.get(key):
                raise InvalidSpec(
                    f"the cloudrun backend needs a {key}",
                    hint=f"pass --{key} or set {variable}; " + _DOCS_HINT,
                )
        return cls(image=image, **values)


def render_resources_with(overrides: Mapping[str, Mapping[str, str]]) -> dict[str, Resources]:
    """The default render resources with some qualities' cpu and memory replaced."""
    sizes = render_sizes_with(overrides).items()
    return {quality: Resources(size.cpu, size.memory) for quality, size in sizes}


def desired_jobs(config: CloudRunConfig) -> dict[str, run_v2.Job]:
    """Every Job the operator owns, by job id, checked against Cloud Run's limits."""
    jobs: dict[str, run_v2.Job] = {}
    for quality, resources in sorted(config.render_resources.items()):
        job_id = config.render_job_name(quality)
        resources.check(f"render resources for quality {quality!r}")
        jobs[job_id] = _job(
            config,
            config.image,
            resources,
            config.render_args,
            config.task_timeout_s,
            config.max_retries,
        )
    for tier in load_tier_table(config.tier_table).tiers:
        resources = Resources(format_cpu(float(tier.cpu)), tier.memory)
        resources.check(f"stitch tier {tier.name!r}")
        # A stitch that fails is retried by the reconciler, one tier up: not here.
        jobs[config.stitch_job_name(tier.name)] = _job(
            config,
            config.stitch_image or config.image,
            resources,
            config.stitch_args,
            tier.timeout_s,
            0,
        )
    return jobs


def _job(
    config: CloudRunConfig,
    image: str,
    resources: Resources,
    args: tuple[str, ...],
    timeout_s: int,
    max_retries: int,
) -> run_v2.Job:
    container = run_v2.Container(
        name="chalkline",
        image=image,
        command=list(config.command),
        args=list(args),
        env=[run_v2.EnvVar(name=k, value=v) for k, v in sorted(config.env.items())],
        resources=run_v2.ResourceRequirements(
            limits={"cpu": resources.cpu, "memory": resources.memory}
        ),
    )
    task = run_v2.TaskTemplate(
        containers=[container],
        timeout=f"{timeout_s}s",
        max_retries=max_retries,
        service_account=config.service_account or "",
    )
    return run_v2.Job(
        labels=dict(config.labels),
        template=run_v2.ExecutionTemplate(
            labels=dict(config.labels),
            parallelism=config.parallelism,
            task_count=1,
            template=task,
        ),
    )


def owned_fields(job: run_v2.Job) -> dict[str, object]:
    """The parts of a Job chalkline sets; a Job whose parts equal the desired ones is left alone.

    Fields Cloud Run fills in (uid, etag, generation, default probes...) are
    not compared, or every reconcile would see a difference.
    """
    template = job.template
    task = template.template
    container = task.containers[0] if task.containers else run_v2.Container()
    return {
        "labels": dict(job.labels),
        "execution_labels": dict(template.labels),
        "parallelism": template.parallelism,
        "image": container.image,
        "command": list(container.command),
        "args": list(container.args),
        "env": sorted((e.name, e.value) for e in container.env),
        "limits": dict(container.resources.limits),
        "timeout_s": task.timeout.total_seconds() if task.timeout else None,
        "max_retries": task.max_retries,
        "service_account": task.service_account,
    }


def fields_that_differ(desired: run_v2.Job, actual: run_v2.Job) -> list[str]:
    """Names of the owned fields where ``actual`` is not what we declare.

    An unset service account means "Cloud Run's default", which the API fills
    in, so it is compared only when the config names one.
    """
    want, have = owned_fields(desired), owned_fields(actual)
    if not want["service_account"]:
        del want["service_account"], have["service_account"]
    return [name for name in want if want[name] != have[name]]
