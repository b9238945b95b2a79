"""A typed view of a RenderJob's ``spec``: parsed once, checked field by field.

The API server validates a RenderJob against the CRD's schema, but
``chalkline run -f`` has no API server, and the operator should not trust
that every object it reads was admitted by today's schema. So the same rules
live here, with error messages that name the field (``spec.source.uri``) and
say what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalkline.core.errors import InvalidSpec
from chalkline.core.quality import QUALITIES

Backend = Literal["local", "cloudrun", "kubernetes"]
BACKENDS: tuple[Backend, ...] = ("local", "cloudrun", "kubernetes")
TIERS = ("auto", "small", "medium", "large", "xlarge")
URI_PATTERN = re.compile(r"^(gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/.+|file:///.+)$")
VIDEO_URI_PATTERN = re.compile(
    r"^(gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/|file:///).+\.(mp4|mov|m4v)$"
)
SCENE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_SCENE_NAME = 253
#: A Kubernetes object name (DNS subdomain) and a ConfigMap key, as the API server checks them.
DNS_SUBDOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
MAX_URI_LENGTH = 2048
#: Kubernetes caps a ConfigMap at 1 MiB; an inline script shares the object's budget.
MAX_INLINE_BYTES = 256 * 1024
MAX_CLIPS = 100
MAX_SCENES = 200
MAX_PARALLELISM = 1000
MAX_RETRIES = 10
MAX_TIMEOUT_SECONDS = 86_400


@dataclass(frozen=True)
class ConfigMapKeyRef:
    """A script kept in a ConfigMap of the RenderJob's own namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class Source:
    """Where the script comes from: exactly one of the three is set."""

    inline: str | None = None
    config_map_key_ref: ConfigMapKeyRef | None = None
    uri: str | None = None


@dataclass(frozen=True)
class RenderJobSpec:
    """What a RenderJob asks for, with the defaults filled in."""

    source: Source | None = None
    clips: tuple[str, ...] = ()
    scenes: tuple[str, ...] = ()
    quality: str = "low"
    output: str | None = None
    backend: Backend | None = None
    parallelism: int = 10
    retries: int = 0
    timeout_seconds: int | None = None
    stitch_tier: str = "auto"

    @property
    def stitch_only(self) -> bool:
        """True when the job joins ready clips instead of rendering a script."""
        return bool(self.clips)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RenderJobSpec:
        """Parse and check ``spec``; raise :class:`InvalidSpec` naming the field."""
        return parse_spec(spec)


def parse_spec(spec: Mapping[str, Any]) -> RenderJobSpec:
    """See :meth:`RenderJobSpec.from_dict`."""
    _no_unknown(spec, "spec", {
        "source", "clips", "scenes", "quality", "output", "backend",
        "parallelism", "retries", "timeoutSeconds", "stitch",
    })  # fmt: skip
    has_source = spec.get("source") is not None
    has_clips = spec.get("clips") is not None
    if has_source == has_clips:
        raise InvalidSpec(
            "spec needs exactly one of source (a Manim script) and clips (ready videos)",
            hint="set spec.source.inline, spec.source.configMapKeyRef or spec.source.uri; "
            "or list video URIs in spec.clips",
        )
    stitch = _mapping(spec.get("stitch", {}), "spec.stitch")
    _no_unknown(stitch, "spec.stitch", {"tier"})
    return RenderJobSpec(
        source=_source(spec["source"]) if has_source else None,
        clips=_clips(spec["clips"]) if has_clips else (),
        scenes=_scenes(spec.get("scenes", [])),
        quality=_choice(spec.get("quality", "low"), "spec.quality", tuple(QUALITIES)),
        output=_optional_uri(spec.get("output"), "spec.output", VIDEO_URI_PATTERN),
        backend=_backend(spec.get("backend")),
        parallelism=_integer(spec.get("parallelism", 10), "spec.parallelism", 1, MAX_PARALLELISM),
        retries=_integer(spec.get("retries", 0), "spec.retries", 0, MAX_RETRIES),
        timeout_seconds=(
            None
            if spec.get("timeoutSeconds") is None
            else _integer(spec["timeoutSeconds"], "spec.timeoutSeconds", 1, MAX_TIMEOUT_SECONDS)
        ),
        stitch_tier=_choice(stitch.get("tier", "auto"), "spec.stitch.tier", TIERS),
    )


def _source(value: Any) -> Source:
    source = _mapping(value, "spec.source")
    _no_unknown(source, "spec.source", {"inline", "configMapKeyRef", "uri"})
    given = [key for key in ("inline", "configMapKeyRef", "uri") if source.get(key) is not None]
    if len(given) != 1:
        raise InvalidSpec(
            f"spec.source needs exactly one of inline, configMapKeyRef, uri (got {len(given)})"
        )
    if "inline" in given:
        inline = source["inline"]
        if not isinstance(inline, str) or not inline.strip():
            raise InvalidSpec("spec.source.inline must be the script's text")
        if len(inline.encode()) > MAX_INLINE_BYTES:
            raise InvalidSpec(
                f"spec.source.inline is larger than {MAX_INLINE_BYTES // 1024} KiB",
                hint="keep large scripts in a ConfigMap or at a gs:// or file:// URI",
            )
        return Source(inline=inline)
    if "configMapKeyRef" in given:
        ref = _mapping(source["configMapKeyRef"], "spec.source.configMapKeyRef")
        _no_unknown(ref, "spec.source.configMapKeyRef", {"name", "key"})
        return Source(
            config_map_key_ref=ConfigMapKeyRef(
                name=_matching(
                    ref.get("name"),
                    "spec.source.configMapKeyRef.name",
                    DNS_SUBDOMAIN,
                    "a ConfigMap name (lower-case letters, digits, '-' and '.')",
                ),
                key=_matching(
                    ref.get("key"),
                    "spec.source.configMapKeyRef.key",
                    CONFIG_MAP_KEY,
                    "a ConfigMap key (letters, digits, '-', '_' and '.')",
                ),
            )
        )
    return Source(uri=_uri(source["uri"], "spec.source.uri", URI_PATTERN))


def _clips(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidSpec("spec.clips must be a non-empty list of video URIs")
    if len(value) > MAX_CLIPS:
        raise InvalidSpec(f"spec.clips lists {len(value)} clips; at most {MAX_CLIPS} are allowed")
    return tuple(_uri(item, f"spec.clips[{i}]", VIDEO_URI_PATTERN) for i, item in enumerate(value))


def _scenes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidSpec("spec.scenes must be a list of Scene class names")
    if len(value) > MAX_SCENES:
        raise InvalidSpec(f"spec.scenes lists {len(value)} scenes; at most {MAX_SCENES}")
    for i, name in enumerate(value):
        if (
            not isinstance(name, str)
            or len(name) > MAX_SCENE_NAME
            or not SCENE_NAME.fullmatch(name)
        ):
            raise InvalidSpec(f"spec.scenes[{i}] = {name!r} is not a Python class name")
    duplicates = sorted({name for name in value if value.count(name) > 1})
    if duplicates:
        raise InvalidSpec(f"spec.scenes names {', '.join(duplicates)} more than once")
    return tuple(value)


def _backend(value: Any) -> Backend | None:
    if value is None:
        return None
    chosen = _choice(value, "spec.backend", BACKENDS)
    return next(backend for backend in BACKENDS if backend == chosen)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidSpec(f"{field} must be an object")
    return value


def _no_unknown(value: Mapping[str, Any], field: str, known: set[str]) -> None:
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidSpec(
            f"{field} has unknown field(s): {', '.join(unknown)}",
            hint=f"allowed: {', '.join(sorted(known))}",
        )


def _matching(value: Any, field: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidSpec(f"{field} = {value!r} is not {what}")
    return value


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidSpec(f"{field} = {value!r} is not one of: {', '.join(allowed)}")
    return str(value)


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSpec(f"{field} = {value!r} must be a whole number from {low} to {high}")
    return value


def _uri(value: Any, field: str, pattern: re.Pattern[str]) -> str:
    too_long = isinstance(value, str) and len(value) > MAX_URI_LENGTH
    if not isinstance(value, str) or too_long or not pattern.fullmatch(value):
        kind = "a video (.mp4, .mov, .m4v) URI" if pattern is VIDEO_URI_PATTERN else "a URI"
        raise InvalidSpec(
            f"{field} = {value!r} is not {kind} chalkline can use",
            hint="use gs://BUCKET/path or file:///absolute/path",
        )
    return value


def _optional_uri(value: Any, field: str, pattern: re.Pattern[str]) -> str | None:
    return None if value is None else _uri(value, field, pattern)
