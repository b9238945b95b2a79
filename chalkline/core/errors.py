"""User-facing errors.

Every failure a user can cause (bad script, unknown scene, unwritable output,
a clip that is not a video, ...) is raised as a :class:`ChalklineError` whose
message says what went wrong, where, and how to fix it. The CLI prints the
message and exits non-zero; later the operator turns the same errors into a
condition ``reason`` (the class's ``reason``) and an Event.
"""

from __future__ import annotations


class ChalklineError(Exception):
    """A failure with a message meant for the user, not a traceback."""

    reason = "Failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class SourceNotFound(ChalklineError):
    """The script or a clip does not exist or cannot be read."""

    reason = "SourceNotFound"


class InvalidScript(ChalklineError):
    """The script does not parse, or defines no scene."""

    reason = "InvalidScript"


class SceneNotFound(ChalklineError):
    """A requested scene name is not defined in the script."""

    reason = "SceneNotFound"


class InvalidSpec(ChalklineError):
    """An option or field has a value outside what is allowed."""

    reason = "InvalidSpec"


class OutputNotWritable(ChalklineError):
    """The output folder is missing or cannot be written."""

    reason = "OutputNotWritable"


class RenderFailed(ChalklineError):
    """A scene raised while rendering, or its worker died."""

    reason = "RenderFailed"


class InvalidClip(ChalklineError):
    """A stitch input is not a readable video."""

    reason = "InvalidClip"


class StitchFailed(ChalklineError):
    """FFmpeg could not join the clips."""

    reason = "StitchFailed"


class StorageConflict(ChalklineError):
    """Another writer changed an object between our read and our write."""

    reason = "StorageConflict"


class StorageAccessDenied(ChalklineError):
    """The credentials lack a permission on a bucket."""

    reason = "StorageAccessDenied"
