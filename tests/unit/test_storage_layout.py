"""The storage layout is the contract between operator, executors, workers and stitcher.

Every URI of a RenderJob comes from chalkline.core.layout; these tests pin
the shape that stored data and running executions already rely on (a
restarted operator finds clips, plans and orders where the last one put
them), and the rules that keep kinds of files apart.
"""

from __future__ import annotations

import pytest

from chalkline.core.layout import (
    JobRef,
    Layout,
    basename,
    clip_name,
    clip_of_manifest,
    failure_uri,
    is_manifest,
    manifest_uri,
    render_plan_uri,
    run_video_uri,
    script_hash,
    stitch_order_uri,
    stitch_result_uri,
    uploaded_clip_uri,
)

JOB = JobRef(namespace="team", name="intro", uid="1234-abcd", generation=3)
ROOT = "gs://bucket/chalkline/"
STAGING = "gs://bucket/chalkline/jobs/team/intro-1234-abcd"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (Layout(ROOT).staging(JOB), STAGING),
        (Layout(ROOT).script(JOB, "d1g3st"), f"{STAGING}/script-d1g3st.py"),
        (Layout(ROOT).clips(JOB), f"{STAGING}/clips"),
        (Layout(ROOT).clip(JOB, "Proof", "low", "d1g3st"), f"{STAGING}/clips/Proof-low-d1g3st.mp4"),
        (Layout(ROOT).scratch(JOB), f"{STAGING}/scratch"),
        (clip_name("Proof", "high", "d", animations=(7, 12)), "Proof-high-d-a7-12.mp4"),
        (Layout(ROOT).default_output(JOB), "gs://bucket/chalkline/videos/team/intro.mp4"),
        (Layout(ROOT).cache_key(JOB), "team-intro-1234-abcd"),
        (Layout(ROOT).run_folder("r1"), "gs://bucket/chalkline/runs/r1"),
        (
            render_plan_uri(f"{STAGING}/scratch", "uid-g3-a0-l0"),
            f"{STAGING}/scratch/render-uid-g3-a0-l0.json",
        ),
        (stitch_order_uri(f"{STAGING}/scratch/", "k"), f"{STAGING}/scratch/stitch-k/order.json"),
        (stitch_result_uri(f"{STAGING}/scratch", "k"), f"{STAGING}/scratch/stitch-k/result.json"),
        (render_plan_uri("file:///s", "a b/c"), "file:///s/render-a-b-c.json"),
        (uploaded_clip_uri("gs://b/runs/r1", 2, "x.mp4"), "gs://b/runs/r1/clips/002-x.mp4"),
        (run_video_uri("gs://b/runs/r1"), "gs://b/runs/r1/video.mp4"),
    ],
)
def test_every_uri_of_a_renderjob_has_one_shape(uri: str, expected: str) -> None:
    assert uri == expected


def test_everything_but_the_video_lives_under_the_staging_prefix() -> None:
    layout = Layout(ROOT)
    inside = [
        layout.script(JOB, "d"),
        layout.clip(JOB, "A", "low", "d"),
        render_plan_uri(layout.scratch(JOB), "k"),
        stitch_order_uri(layout.scratch(JOB), "k"),
    ]
    assert all(uri.startswith(layout.staging(JOB) + "/") for uri in inside)
    assert not layout.default_output(JOB).startswith(layout.staging(JOB))


def test_the_worker_and_the_operator_name_a_clip_alike() -> None:
    digest = script_hash("from manim import *\n")
    planned = Layout(ROOT).clip(JOB, "Intro", "medium", digest)
    assert basename(planned) == clip_name("Intro", "medium", digest)


def test_manifests_sit_beside_their_clips_and_nothing_else_looks_like_one() -> None:
    clip = f"{STAGING}/clips/Proof-low-d.mp4"
    assert manifest_uri(clip) == f"{STAGING}/clips/Proof-low-d.json"
    assert clip_of_manifest(manifest_uri(clip)) == clip
    assert is_manifest(manifest_uri(clip))
    assert not is_manifest(failure_uri(clip))
    assert not is_manifest(clip)
    assert failure_uri(clip) == f"{STAGING}/clips/Proof-low-d.failure.txt"


def test_a_basename_is_percent_decoded() -> None:
    assert basename("gs://b/a/my%20clip.mp4") == "my clip.mp4"
    assert basename("file:///tmp/x/y.py") == "y.py"
