"""The operator's settings, from flags, environment and an optional YAML file.

Precedence: command-line flag, then ``CHALKLINE_*`` environment variable, then
the ``--config`` file, then the default here. Every key is documented in
docs/configuration.md ("Operator").
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES


def _default_workers() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class OperatorConfig:
    backend: str = "local"
    storage: str = "file:///var/lib/chalkline"
    cache_dir: Path = Path("/var/cache/chalkline")
    workers: int = field(default_factory=_default_workers)
    poll_interval: float = 1.0
    tiers: Path | None = None
    namespaces: tuple[str, ...] = ()
    liveness: str = "http://0.0.0.0:8080/healthz"
    #: The cloudrun backend: where its Jobs live (None: Google's API endpoint), the
    #: image every Job runs (stitch Jobs may run a lighter one), their identity and
    #: command, and the render Jobs' shape. Documented in docs/configuration.md.
    cloudrun_project: str | None = None
    cloudrun_region: str | None = None
    cloudrun_endpoint: str | None = None
    cloudrun_image: str | None = None
    cloudrun_stitch_image: str | None = None
    cloudrun_service_account: str | None = None
    cloudrun_command: tuple[str, ...] = ("chalkline",)
    #: Quality -> {cpu, memory} replacing the defaults of those qualities' render Jobs.
    cloudrun_render_resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cloudrun_parallelism: int = 0
    cloudrun_task_timeout_seconds: int = 3600
    cloudrun_max_retries: int = 1
    #: Seconds between two Admin API reads of one execution (the API's read quota).
    cloudrun_poll_interval: float = 5.0
    #: Seconds a signed link to a finished video stays valid; 0: no link.
    signed_url_seconds: int = 0


#: Cloud Run's limits for a job: task timeout (168 h), retries, parallelism.
MAX_TASK_SECONDS = 7 * 24 * 3600
MAX_CLOUDRUN_RETRIES = 10
MAX_CLOUDRUN_PARALLELISM = 10_000
#: The longest a Cloud Storage V4 signed URL may be valid: 7 days.
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600


#: YAML / environment names for each field.
KEYS = {
    "backend": "CHALKLINE_BACKEND",
    "storage": "CHALKLINE_STORAGE",
    "cacheDir": "CHALKLINE_CACHE_DIR",
    "workers": "CHALKLINE_WORKERS",
    "pollInterval": "CHALKLINE_POLL_INTERVAL",
    "tiers": "CHALKLINE_TIERS",
    "liveness": "CHALKLINE_LIVENESS",
    "cloudrunProject": "CHALKLINE_CLOUDRUN_PROJECT",
    "cloudrunRegion": "CHALKLINE_CLOUDRUN_REGION",
    "cloudrunEndpoint": "CHALKLINE_CLOUDRUN_ENDPOINT",
    "cloudrunImage": "CHALKLINE_CLOUDRUN_IMAGE",
    "cloudrunStitchImage": "CHALKLINE_CLOUDRUN_STITCH_IMAGE",
    "cloudrunServiceAccount": "CHALKLINE_CLOUDRUN_SERVICE_ACCOUNT",
    "cloudrunCommand": "CHALKLINE_CLOUDRUN_COMMAND",
    "cloudrunRenderResources": "CHALKLINE_CLOUDRUN_RENDER_RESOURCES",
    "cloudrunParallelism": "CHALKLINE_CLOUDRUN_PARALLELISM",
    "cloudrunTaskTimeoutSeconds": "CHALKLINE_CLOUDRUN_TASK_TIMEOUT_SECONDS",
    "cloudrunMaxRetries": "CHALKLINE_CLOUDRUN_MAX_RETRIES",
    "cloudrunPollInterval": "CHALKLINE_CLOUDRUN_POLL_INTERVAL",
    "signedUrlSeconds": "CHALKLINE_SIGNED_URL_SECONDS",
}
_FIELD_OF = {
    "backend": "backend",
    "storage": "storage",
    "cacheDir": "cache_dir",
    "workers": "workers",
    "pollInterval": "poll_interval",
    "tiers": "tiers",
    "liveness": "liveness",
    "cloudrunProject": "cloudrun_project",
    "cloudrunRegion": "cloudrun_region",
    "cloudrunEndpoint": "cloudrun_endpoint",
    "cloudrunImage": "cloudrun_image",
    "cloudrunStitchImage": "cloudrun_stitch_image",
    "cloudrunServiceAccount": "cloudrun_service_account",
    "cloudrunCommand": "cloudrun_command",
    "cloudrunRenderResources": "cloudrun_render_resources",
    "cloudrunParallelism": "cloudrun_parallelism",
    "cloudrunTaskTimeoutSeconds": "cloudrun_task_timeout_seconds",
    "cloudrunMaxRetries": "cloudrun_max_retries",
    "cloudrunPollInterval": "cloudrun_poll_interval",
    "signedUrlSeconds": "signed_url_seconds",
}


def load_config(
    path: Path | None, overrides: Mapping[str, Any], env: Mapping[str, str] = os.environ
) -> OperatorConfig:
    """Merge file, environment and flags (``overrides`` uses YAML key names)."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_file(path))
    values.update({key: env[var] for key, var in KEYS.items() if env.get(var)})
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _build(values, str(path) if path else "configuration")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise InvalidSpec(f"cannot read operator config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise InvalidSpec(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"{path}: expected a mapping of settings")
    unknown = sorted(set(data) - set(KEYS) - {"namespaces"})
    if unknown:
        raise InvalidSpec(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted([*KEYS, 'namespaces']))}",
        )
    return data


def _build(values: dict[str, Any], where: str) -> OperatorConfig:
    kwargs: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(OperatorConfig)}
    for key, value in values.items():
        name = _FIELD_OF.get(key, key)
        try:
            kwargs[name] = _convert(name, value)
        except (TypeError, ValueError):
            raise InvalidSpec(f"{where}: {key} = {value!r} is not a valid {types[name]}") from None
    config = OperatorConfig(**kwargs)
    if config.backend not in ("local", "cloudrun"):
        raise InvalidSpec(f"{where}: backend {config.backend!r} is not one of: local, cloudrun")
    if config.workers < 1 or config.poll_interval <= 0:
        raise InvalidSpec(f"{where}: workers must be >= 1 and pollInterval > 0")
    if config.cloudrun_poll_interval < 0 or not config.cloudrun_command:
        raise InvalidSpec(f"{where}: cloudrunPollInterval must be >= 0 and cloudrunCommand set")
    _check_cloudrun_jobs(config, where)
    if not 0 <= config.signed_url_seconds <= MAX_SIGNED_URL_SECONDS:
        raise InvalidSpec(
            f"{where}: signedUrlSeconds = {config.signed_url_seconds} is out of range",
            hint=f"0 turns signed links off; at most {MAX_SIGNED_URL_SECONDS} (7 days), "
            "the longest Cloud Storage lets a V4 signed URL live",
        )
    return config


def _check_cloudrun_jobs(config: OperatorConfig, where: str) -> None:
    """The Cloud Run Job settings, within what Cloud Run accepts for a job."""
    for key, value, low, high in (
        ("cloudrunParallelism", config.cloudrun_parallelism, 0, MAX_CLOUDRUN_PARALLELISM),
        ("cloudrunTaskTimeoutSeconds", config.cloudrun_task_timeout_seconds, 1, MAX_TASK_SECONDS),
        ("cloudrunMaxRetries", config.cloudrun_max_retries, 0, MAX_CLOUDRUN_RETRIES),
    ):
        if not low <= value <= high:
            raise InvalidSpec(
                f"{where}: {key} = {value} is out of range",
                hint=f"Cloud Run jobs accept {low} to {high}",
            )
    for quality, limits in config.cloudrun_render_resources.items():
        if quality not in QUALITIES:
            raise InvalidSpec(
                f"{where}: cloudrunRenderResources names quality {quality!r}",
                hint=f"qualities: {', '.join(QUALITIES)}",
            )
        if not isinstance(limits, Mapping) or set(limits) != {"cpu", "memory"}:
            raise InvalidSpec(
                f"{where}: cloudrunRenderResources.{quality} must be {{cpu, memory}}",
                hint='for example {cpu: "4", memory: 8Gi}; the CPU and memory combination '
                "is checked against Cloud Run's when the Jobs are written",
            )


def _convert(name: str, value: Any) -> Any:
    if name in ("cache_dir", "tiers"):
        return Path(value)
    if name == "cloudrun_render_resources":
        # A mapping in the YAML file, YAML (or JSON) text in the environment.
        parsed = yaml.safe_load(value) if isinstance(value, str) else value
        if not isinstance(parsed, Mapping):
            raise TypeError("not a mapping")
        return {str(quality): limits for quality, limits in parsed.items()}
    if name in (
        "workers",
        "signed_url_seconds",
        "cloudrun_parallelism",
        "cloudrun_task_timeout_seconds",
        "cloudrun_max_retries",
    ):
        return int(value)
    if name in ("poll_interval", "cloudrun_poll_interval"):
        return float(value)
    if name == "namespaces":
        return tuple(value)
    if name == "cloudrun_command":
        # A list in the YAML file, a shell-quoted string in the environment.
        return tuple(shlex.split(value) if isinstance(value, str) else map(str, value))
    return str(value)
