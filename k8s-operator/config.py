"""The operator's settings, declared once, read from flags, environment and a YAML file.

Precedence: command-line flag, then ``CHALKLINE_*`` environment variable, then
the ``--config`` file, then the default.

Each field of :class:`OperatorConfig` carries its :class:`Setting` (config key,
environment variable, flag, parser, checks, help) in its metadata, and
everything else derives from that one table: the loader and its validation
(here), ``chalkline operator``'s options (``chalkline.cli.operator_cmd``) and
the table in docs/configuration.md ("Operator", rendered by
``chalkline.operator.config_reference``). A new setting is one new field here;
then ``.venv/bin/python scripts/settings_doc.py --write`` updates the doc.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES
from chalkline.executors.render_sizes import DEFAULT_RENDER_SIZES, described

#: Cloud Run's limits for a job: task timeout (168 h), retries, parallelism.
MAX_TASK_SECONDS = 7 * 24 * 3600
MAX_CLOUDRUN_RETRIES = 10
MAX_CLOUDRUN_PARALLELISM = 10_000
#: The longest a Cloud Storage V4 signed URL may be valid: 7 days.
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600
_CLOUD_RUN_LIMIT = "Cloud Run's limit for a job"


@dataclass(frozen=True)
class Flag:
    """A setting's command-line flag on ``chalkline operator``."""

    name: str
    short: str | None = None
    #: The flag may be given more than once (and its variable hold several
    #: words); the values form the setting's list.
    repeatable: bool = False


@dataclass(frozen=True)
class Bounds:
    """The numbers a setting accepts; the error hint and the docs both say them."""

    at_least: float | None = None
    #: An exclusive lower bound, for settings where 0 would mean "never" or "spin".
    above: float | None = None
    at_most: float | None = None
    #: Where the bounds come from, when it is not obvious (a cloud API's limit).
    why: str = ""

    def admits(self, value: float) -> bool:
        return (
            (self.at_least is None or value >= self.at_least)
            and (self.above is None or value > self.above)
            and (self.at_most is None or value <= self.at_most)
        )

    def rule(self) -> str:
        """``must be >= 1``, ``must be 0 to 10: why``: for the error hint and the docs."""
        if self.at_least is not None and self.at_most is not None:
            text = f"{self.at_least} to {self.at_most}"
        else:
            text = " and ".join(
                f"{sign} {bound}"
                for sign, bound in ((">=", self.at_least), (">", self.above), ("<=", self.at_most))
                if bound is not None
            )
        return f"must be {text}: {self.why}" if self.why else f"must be {text}"


@dataclass(frozen=True)
class Setting:
    """One operator setting: how users name it, how it is read, what it means.

    Declared in the metadata of an :class:`OperatorConfig` field; ``name``,
    ``type_name`` and ``default`` are filled in from that field (see
    ``SETTINGS``), so they are never written twice.
    """

    #: One line for the docs' table and ``--help``; Markdown backticks allowed.
    help: str
    #: A value other than the default, as the environment variable would hold it:
    #: the docs show it, and the tests set the variable to it.
    example: str
    #: The config file's key, also the key of ``load_config``'s overrides; by
    #: default the field's name in camelCase (``cache_dir`` -> ``cacheDir``).
    key: str = ""
    #: The environment variable; by default ``CHALKLINE_`` and the field's name in
    #: capitals (``cache_dir`` -> ``CHALKLINE_CACHE_DIR``).
    env: str = ""
    #: Text (from the environment or the file) or a YAML value -> the field's value;
    #: TypeError or ValueError means "not a valid <type>".
    parse: Callable[[Any], Any] = str
    flag: Flag | None = None
    #: The only values allowed (and the flag's choices).
    choices: tuple[str, ...] = ()
    bounds: Bounds | None = None
    #: Any further check of the parsed value: called with "<where>: <key>" to
    #: start its message, raises InvalidSpec.
    check: Callable[[str, Any], None] | None = None
    #: The default as the docs and ``--help`` say it (Markdown), when the value
    #: itself would not say it well (computed, empty, or decided elsewhere).
    shown_default: str | None = None
    # Filled in from the field the declaration sits on.
    name: str = ""
    type_name: str = ""
    default: Any = None

    def default_markdown(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        value = self.default
        text = shlex.join(value) if isinstance(value, tuple) else str(value)
        return f"`{text}`"


#: The metadata key under which an OperatorConfig field holds its Setting.
SETTING = "chalkline.setting"


def _default_workers() -> int:
    return os.cpu_count() or 1


def _words(value: Any) -> tuple[str, ...]:
    """A list in the YAML file; shell-quoted words in the environment or a flag."""
    return tuple(shlex.split(value) if isinstance(value, str) else map(str, value))


def _yaml(value: Any) -> Any:
    """A value as the YAML file holds it; YAML (or JSON) text in the environment."""
    try:
        return yaml.safe_load(value) if isinstance(value, str) else value
    except yaml.YAMLError as err:
        raise ValueError(str(err)) from None


def _resources(value: Any) -> dict[str, Any]:
    """``{quality: {cpu, memory}}``; checked by :func:`_check_render_resources`."""
    parsed = _yaml(value)
    if not isinstance(parsed, Mapping):
        raise TypeError("not a mapping")
    return {str(quality): limits for quality, limits in parsed.items()}


def _string_map(value: Any) -> dict[str, str]:
    """Labels or a node selector: names to text."""
    parsed = _yaml(value)
    if not isinstance(parsed, Mapping):
        raise TypeError("not a mapping")
    return {str(k): str(v) for k, v in parsed.items()}


def _list_of_maps(value: Any) -> tuple[dict[str, Any], ...]:
    """Tolerations: a list of objects, passed to the pods as they are."""
    parsed = _yaml(value)
    if not isinstance(parsed, list) or not all(isinstance(item, Mapping) for item in parsed):
        raise TypeError("not a list of mappings")
    return tuple(dict(item) for item in parsed)


def _check_render_resources(label: str, value: Mapping[str, Any]) -> None:
    """Known qualities, each with exactly cpu and memory: the pair itself is checked
    against Cloud Run's combinations only when the Jobs are written."""
    for quality, limits in value.items():
        if quality not in QUALITIES:
            raise InvalidSpec(
                f"{label} names quality {quality!r}", hint=f"qualities: {', '.join(QUALITIES)}"
            )
        if not isinstance(limits, Mapping) or set(limits) != {"cpu", "memory"}:
            raise InvalidSpec(
                f"{label}.{quality} must be {{cpu, memory}}",
                hint='for example {cpu: "4", memory: 8Gi}; the CPU and memory combination '
                "is checked against Cloud Run's when the Jobs are written",
            )


def _check_not_empty(label: str, value: tuple[str, ...]) -> None:
    """A Job with no command would fail every task, long after the operator started."""
    if not value:
        raise InvalidSpec(f"{label} is empty", hint="the Jobs' container needs a command")


_REQUIRED_FOR_CLOUDRUN = "none (required for `cloudrun`)"


def setting(
    default: Any = MISSING, *, default_factory: Callable[[], Any] | None = None, **declared: Any
) -> Any:
    """An :class:`OperatorConfig` field with its default and its :class:`Setting`."""
    metadata = {SETTING: Setting(**declared)}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OperatorConfig:
    """Every operator setting: a field each, declared with its :class:`Setting`.

    The order of the fields is the order of the docs' table and of the flags.
    """

    backend: str = setting(
        "local",
        flag=Flag("--backend"),
        choices=("local", "cloudrun", "kubernetes"),
        example="cloudrun",
        help="where tasks run when a RenderJob does not say: `local` in the operator's "
        "own process pool (development: user scripts run beside the operator's "
        'credentials), `cloudrun` as Cloud Run Jobs (the `cloudrun*` keys, "Cloud Run"; '
        "gs:// `storage`), `kubernetes` as Jobs on this cluster (the `kubernetes*` keys, "
        '"Kubernetes Jobs")',
    )
    storage: str = setting(
        "file:///var/lib/chalkline",
        flag=Flag("--storage"),
        example="gs://my-bucket/chalkline",
        help='root URI for staged scripts, clips and default outputs (see "Storage")',
    )
    cache_dir: Path = setting(
        Path("/var/cache/chalkline"),
        parse=Path,
        example="/tmp/chalkline-cache",
        help="Manim's per-scene media caches (local backend)",
    )
    workers: int = setting(
        default_factory=_default_workers,
        parse=int,
        bounds=Bounds(at_least=1),
        shown_default="CPU count",
        example="3",
        help="scenes rendered at once on this machine, across all RenderJobs",
    )
    poll_interval: float = setting(
        1.0,
        parse=float,
        bounds=Bounds(above=0),
        example="2.5",
        help="seconds between reconciles of one RenderJob",
    )
    tiers: Path | None = setting(
        None,
        parse=Path,
        shown_default="packaged `tiers.yaml`",
        example="/etc/chalkline/tiers.yaml",
        help='a stitch-tier override file (see "Stitch tiers")',
    )
    liveness: str = setting(
        "http://0.0.0.0:8080/healthz",
        flag=Flag("--liveness"),
        example="http://0.0.0.0:9090/healthz",
        help="Kopf's liveness endpoint",
    )
    namespaces: tuple[str, ...] = setting(
        (),
        env="CHALKLINE_NAMESPACE",
        flag=Flag("--namespace", "-n", repeatable=True),
        parse=_words,
        shown_default="all namespaces",
        example="team-a team-b",
        help="watch only these namespaces (`--all-namespaces` / `-A` for every one)",
    )
    cloudrun_project: str | None = setting(
        None,
        shown_default=_REQUIRED_FOR_CLOUDRUN,
        example="my-project",
        help="the Google Cloud project of the Jobs",
    )
    cloudrun_region: str | None = setting(
        None,
        shown_default=_REQUIRED_FOR_CLOUDRUN,
        example="europe-west1",
        help="the Cloud Run region",
    )
    cloudrun_endpoint: str | None = setting(
        None,
        shown_default="Google's, with Application Default Credentials",
        example="http://127.0.0.1:8123",
        help="the Admin API endpoint; an `http://` one (an emulator) means anonymous credentials",
    )
    cloudrun_image: str | None = setting(
        None,
        shown_default=_REQUIRED_FOR_CLOUDRUN,
        example="registry.example/chalkline/worker:1",
        help="the container image of the render and stitch Jobs the operator "
        "creates or updates at start",
    )
    cloudrun_stitch_image: str | None = setting(
        None,
        shown_default="`cloudrunImage`",
        example="registry.example/chalkline/stitcher:1",
        help="the stitch Jobs' image, e.g. the lighter `docker/stitcher.Dockerfile` "
        "image without Manim",
    )
    cloudrun_render_resources: Mapping[str, Mapping[str, str]] = setting(
        default_factory=dict,
        parse=_resources,
        check=_check_render_resources,
        shown_default=described(DEFAULT_RENDER_SIZES),
        example='{"4k": {"cpu": "8", "memory": "32Gi"}}',
        help="`{quality: {cpu, memory}}` replacing those qualities' render Job sizes "
        "(YAML or JSON text in the environment); checked against Cloud Run's "
        "CPU/memory combinations before any Job is written",
    )
    cloudrun_parallelism: int = setting(
        0,
        parse=int,
        bounds=Bounds(at_least=0, at_most=MAX_CLOUDRUN_PARALLELISM, why=_CLOUD_RUN_LIMIT),
        shown_default="`0` (as many as Cloud Run allows)",
        example="10",
        help="tasks of one render execution running at once (a Job setting)",
    )
    cloudrun_task_timeout_seconds: int = setting(
        3600,
        parse=int,
        bounds=Bounds(at_least=1, at_most=MAX_TASK_SECONDS, why=_CLOUD_RUN_LIMIT),
        example="7200",
        help="one render task's timeout, in seconds",
    )
    cloudrun_max_retries: int = setting(
        1,
        parse=int,
        bounds=Bounds(at_least=0, at_most=MAX_CLOUDRUN_RETRIES, why=_CLOUD_RUN_LIMIT),
        example="3",
        help="Cloud Run's own retries of a failed render task, before the "
        "reconciler's `spec.retries` re-runs the failed scenes in a new execution",
    )
    cloudrun_service_account: str | None = setting(
        None,
        shown_default="Cloud Run's default",
        example="renderer@my-project.iam.gserviceaccount.com",
        help="the service account the Jobs' tasks run as (needs read/write on the bucket)",
    )
    cloudrun_command: tuple[str, ...] = setting(
        ("chalkline",),
        parse=_words,
        check=_check_not_empty,
        example="python -m chalkline",
        help="the Jobs' container command (a list in YAML, a shell-quoted string in "
        "the environment); the args add `worker` or `stitch`",
    )
    cloudrun_poll_interval: float = setting(
        5.0,
        parse=float,
        bounds=Bounds(at_least=0),
        example="10",
        help="least seconds between two Admin API reads of one execution (its read quota)",
    )
    kubernetes_image: str | None = setting(
        None,
        shown_default="none (required for `kubernetes`)",
        example="registry.example/chalkline/worker:1",
        help="the worker image the render and stitch Jobs' pods run",
    )
    kubernetes_stitch_image: str | None = setting(
        None,
        shown_default="`kubernetesImage`",
        example="registry.example/chalkline/stitcher:1",
        help="the stitch Jobs' image, e.g. the stitcher image without Manim",
    )
    kubernetes_namespace: str | None = setting(
        None,
        shown_default="the RenderJob's namespace",
        example="chalkline-jobs",
        help="where the Jobs run; in the RenderJob's own namespace they are owned by it "
        "(garbage-collected with it) and count against that namespace's quotas",
    )
    kubernetes_command: tuple[str, ...] = setting(
        ("chalkline",),
        parse=_words,
        check=_check_not_empty,
        example="python -m chalkline",
        help="the pods' container command; the args add `worker` or `stitch`",
    )
    kubernetes_render_resources: Mapping[str, Mapping[str, str]] = setting(
        default_factory=dict,
        parse=_resources,
        check=_check_render_resources,
        shown_default=described(DEFAULT_RENDER_SIZES),
        example='{"high": {"cpu": "3", "memory": "6Gi"}}',
        help="`{quality: {cpu, memory}}` replacing those qualities' render pod requests "
        "and limits (equal: Guaranteed QoS); stitch pods are sized by the tier table",
    )
    kubernetes_retries_per_index: int = setting(
        1,
        parse=int,
        bounds=Bounds(at_least=0, at_most=10),
        example="2",
        help="retries of one failed render task (a crash, an eviction) by the Job "
        "controller; a failure of the script itself is never retried",
    )
    kubernetes_task_timeout_seconds: int = setting(
        3600,
        parse=int,
        bounds=Bounds(at_least=1),
        example="7200",
        help="one render pod's deadline (`activeDeadlineSeconds`), in seconds",
    )
    kubernetes_ttl_seconds_after_finished: int = setting(
        3600,
        parse=int,
        bounds=Bounds(at_least=0),
        example="600",
        help="how long a finished Job stays for inspection before the cluster deletes it",
    )
    kubernetes_service_account: str | None = setting(
        None,
        shown_default="the namespace's `default`",
        example="renderer",
        help="the pods' service account (its token is never mounted; for Workload "
        "Identity to gs://)",
    )
    kubernetes_node_selector: Mapping[str, str] = setting(
        default_factory=dict,
        parse=_string_map,
        shown_default="none",
        example='{"pool": "render"}',
        help="the pods' `nodeSelector`",
    )
    kubernetes_tolerations: tuple[Mapping[str, Any], ...] = setting(
        (),
        parse=_list_of_maps,
        shown_default="none",
        example='[{"key": "render", "operator": "Exists", "effect": "NoSchedule"}]',
        help="the pods' `tolerations`",
    )
    kubernetes_priority_class: str | None = setting(
        None,
        shown_default="none",
        example="batch-low",
        help="the pods' `priorityClassName`",
    )
    kubernetes_image_pull_secrets: tuple[str, ...] = setting(
        (),
        parse=_words,
        shown_default="none",
        example="regcred",
        help="names of the Secrets the pods pull images with",
    )
    kubernetes_labels: Mapping[str, str] = setting(
        default_factory=dict,
        parse=_string_map,
        shown_default="none",
        example='{"kueue.x-k8s.io/queue-name": "renders"}',
        help="extra labels on every Job and pod, e.g. a Kueue queue name",
    )
    kubernetes_storage_claim: str | None = setting(
        None,
        shown_default="none (gs:// storage)",
        example="chalkline-storage",
        help="a ReadWriteMany PersistentVolumeClaim holding a file:// `storage` root, "
        "mounted in the pods at the root's path (mount it there in the operator too)",
    )
    signed_url_seconds: int = setting(
        0,
        parse=int,
        bounds=Bounds(
            at_least=0,
            at_most=MAX_SIGNED_URL_SECONDS,
            why="0 turns signed links off, and Cloud Storage lets a V4 signed URL "
            f"live at most {MAX_SIGNED_URL_SECONDS} (7 days)",
        ),
        shown_default="`0` (off)",
        example="86400",
        help="when a job succeeds, sign a link to its video valid this many seconds "
        "into `status.videoUrl`; needs `gs://` outputs and credentials that can sign "
        '(see "Storage")',
    )


def _bound(spec: Field[Any]) -> Setting:
    """The field's declaration, completed with what the field itself says."""
    declared = spec.metadata.get(SETTING)
    if not isinstance(declared, Setting):
        raise TypeError(f"OperatorConfig.{spec.name} has no Setting in its metadata")
    factory: Any = spec.default_factory
    default = factory() if spec.default is MISSING else spec.default
    return replace(
        declared,
        key=declared.key or _camel(spec.name),
        env=declared.env or f"CHALKLINE_{spec.name.upper()}",
        name=spec.name,
        type_name=str(spec.type),
        default=default,
    )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


#: Every setting, in the order of OperatorConfig's fields.
SETTINGS: tuple[Setting, ...] = tuple(_bound(spec) for spec in fields(OperatorConfig))
SETTING_BY_KEY: Mapping[str, Setting] = {setting.key: setting for setting in SETTINGS}


def load_config(
    path: Path | None,
    overrides: Mapping[str, Any],
    env: Mapping[str, str] = os.environ,
    defaults: Mapping[str, Any] | None = None,
) -> OperatorConfig:
    """Merge file, environment and flags (``overrides`` uses the file's key names;
    a None override means "not given").

    ``defaults`` replace the declared defaults for a caller whose home differs
    (``chalkline run`` keeps its files in the user's cache, not in /var/lib);
    the file, the environment and the flags still win over them.
    """
    values: dict[str, Any] = dict(defaults or {})
    if path is not None:
        values.update(_read_file(path))
    values.update({s.key: env[s.env] for s in SETTINGS if env.get(s.env)})
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
    unknown = sorted(set(data) - set(SETTING_BY_KEY))
    if unknown:
        raise InvalidSpec(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted(SETTING_BY_KEY))}",
        )
    return data


def _build(values: Mapping[str, Any], where: str) -> OperatorConfig:
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        setting = SETTING_BY_KEY[key]
        try:
            kwargs[setting.name] = setting.parse(value)
        except (TypeError, ValueError):
            raise InvalidSpec(
                f"{where}: {key} = {value!r} is not a valid {setting.type_name}"
            ) from None
    config = OperatorConfig(**kwargs)
    for setting in SETTINGS:
        _check(setting, getattr(config, setting.name), where)
    return config


def _check(setting: Setting, value: Any, where: str) -> None:
    """Raise InvalidSpec, naming the key, if ``value`` is not one the setting allows."""
    key = setting.key
    if setting.choices and value not in setting.choices:
        raise InvalidSpec(f"{where}: {key} {value!r} is not one of: {', '.join(setting.choices)}")
    if setting.bounds is not None and not setting.bounds.admits(value):
        raise InvalidSpec(
            f"{where}: {key} = {value} is out of range",
            hint=f"{key} {setting.bounds.rule()}",
        )
    if setting.check is not None:
        setting.check(f"{where}: {key}", value)
