"""Stitch tiers: which job size a stitch gets, why, and what it costs.

The packaged table (stitcher/tiers.yaml) is the specification these tests
read; every limit is tested on both sides of its boundary.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chalkline.cli.tier_cmd import tier
from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import (
    fits_within,
    format_cpu,
    format_memory_gib,
    parse_cpu,
    parse_memory_gib,
    parse_resolution,
)
from chalkline.stitcher.modes import StitchMode
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.stitcher.tiers import (
    StitchLoad,
    TierTable,
    choose_tier,
    estimate_seconds,
    next_tier,
)

MB = 1_000_000


@pytest.fixture(scope="module")
def table() -> TierTable:
    return load_tier_table()


def stitch(
    *,
    clips: int = 2,
    size_mb: float = 10,
    resolution: str = "1080x1920",
    duration_s: float = 16,
    mode: StitchMode = "copy",
) -> StitchLoad:
    """A load that fits the smallest tier unless a test says otherwise."""
    width, height = parse_resolution(resolution)
    return StitchLoad(clips, round(size_mb * MB), width, height, duration_s, mode)


def tier_for(table: TierTable, load: StitchLoad, minimum: str | None = None) -> str:
    return choose_tier(load, table, minimum=minimum).tier


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the packaged table is the design's ------------------------------------------


def test_packaged_table_is_the_design_table(table: TierTable) -> None:
    rows = [
        (t.name, t.limits.max_clips, t.limits.max_size_mb, t.cpu, t.memory, t.timeout_s)
        for t in table.tiers
    ]
    assert rows == [
        ("small", 3, 100, 1, "2Gi", 600),
        ("medium", 6, 300, 2, "4Gi", 900),
        ("large", 10, 600, 4, "8Gi", 1200),
        ("xlarge", None, None, 8, "16Gi", 1800),
    ]
    assert table.prices.cpu_second_usd == 0.000024  # upper bounds of Cloud Run's range
    assert table.prices.gib_second_usd == 0.0000025


# --- rule 1: limits, on both sides of every boundary -----------------------------


@pytest.mark.parametrize(
    ("clips", "expected"),
    [(1, "small"), (3, "small"), (4, "medium"), (6, "medium"), (7, "large"), (10, "large"),
     (11, "xlarge")],
)  # fmt: skip
def test_clip_count_boundaries(table: TierTable, clips: int, expected: str) -> None:
    assert tier_for(table, stitch(clips=clips)) == expected


@pytest.mark.parametrize(
    ("size_mb", "expected"),
    [(0, "small"), (99.99, "small"), (99.999999, "small"), (100, "medium"),
     (299.99, "medium"), (300, "large"), (599.99, "large"), (600, "xlarge")],
)  # fmt: skip
def test_size_limits_are_exclusive(table: TierTable, size_mb: float, expected: str) -> None:
    assert tier_for(table, stitch(size_mb=size_mb)) == expected


@pytest.mark.parametrize(
    ("duration_s", "expected"),
    [(120, "small"), (120.01, "medium"), (300, "medium"), (300.01, "large"), (600, "large"),
     (600.01, "xlarge")],
)  # fmt: skip
def test_duration_limits_are_inclusive(table: TierTable, duration_s: float, expected: str) -> None:
    assert tier_for(table, stitch(duration_s=duration_s)) == expected


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [("1920x1080", "small"), ("1080x1920", "small"), ("2560x1440", "small"),
     ("1440x2560", "small"), ("2561x1440", "xlarge"), ("2560x1441", "xlarge"),
     ("3840x2160", "xlarge"), ("2160x3840", "xlarge")],
)  # fmt: skip
def test_any_4k_input_needs_xlarge_in_either_orientation(
    table: TierTable, resolution: str, expected: str
) -> None:
    assert tier_for(table, stitch(resolution=resolution)) == expected


@pytest.mark.parametrize(
    ("clips", "expected"),
    [(2, "small"), (3, "small"), (4, "medium"), (6, "medium"), (7, "large"), (10, "large")],
)
def test_reel_of_8s_portrait_clips_is_decided_by_count_never_xlarge(
    table: TierTable, clips: int, expected: str
) -> None:
    reel = stitch(clips=clips, size_mb=8 * clips, resolution="1080x1920", duration_s=8 * clips)
    assert tier_for(table, reel) == expected


def test_a_load_within_the_smallest_tier_needs_no_reason(table: TierTable) -> None:
    assert choose_tier(stitch(), table).reasons == ()


def test_each_limit_that_pushed_the_choice_up_says_so_decisive_first(table: TierTable) -> None:
    load = stitch(clips=4, size_mb=150, resolution="2160x3840")
    assert choose_tier(load, table).reasons == (
        "4K input (2160x3840): larger than large's limit of 2560x1440",
        "4 clips: more than small's limit of 3",
        "150 MB: not under small's limit of 100 MB",
    )


def test_duration_reason_names_the_largest_tier_it_ruled_out(table: TierTable) -> None:
    reasons = choose_tier(stitch(duration_s=301), table).reasons
    assert reasons == ("301 s in all: longer than medium's limit of 300 s",)


# --- rule 2: the mode ------------------------------------------------------------


def test_reencode_steps_up_one_tier_where_copy_does_not(table: TierTable) -> None:
    assert tier_for(table, stitch(mode="copy")) == "small"
    choice = choose_tier(stitch(mode="reencode"), table)
    assert choice.tier == "medium"
    assert choice.reasons == ("re-encode steps up from small to medium",)


def test_reencode_cannot_step_above_the_largest_tier(table: TierTable) -> None:
    choice = choose_tier(stitch(resolution="3840x2160", mode="reencode"), table)
    assert choice.tier == "xlarge"
    assert not any("re-encode" in reason for reason in choice.reasons)


# --- rule 3: a minimum tier ------------------------------------------------------


def test_minimum_raises_the_choice_and_says_so(table: TierTable) -> None:
    choice = choose_tier(stitch(), table, minimum="large")
    assert (choice.tier, choice.reasons) == ("large", ("at least large was asked for",))


def test_minimum_below_the_choice_changes_nothing(table: TierTable) -> None:
    choice = choose_tier(stitch(clips=8), table, minimum="small")
    assert choice.tier == "large"
    assert "at least small was asked for" not in choice.reasons


def test_minimum_is_a_floor_after_the_mode_so_escalation_moves_one_tier(table: TierTable) -> None:
    load = stitch(mode="reencode")  # small, stepped up to medium
    assert tier_for(table, load, minimum="medium") == "medium"
    escalated = next_tier(tier_for(table, load), table)
    assert tier_for(table, load, minimum=escalated) == "large"


def test_unknown_minimum_lists_the_tiers(table: TierTable) -> None:
    with pytest.raises(InvalidSpec, match="unknown stitch tier 'huge'") as err:
        choose_tier(stitch(), table, minimum="huge")
    assert err.value.hint == "use one of: small, medium, large, xlarge"


# --- rule 4: the timeout ---------------------------------------------------------


def test_a_tier_whose_timeout_is_too_short_for_the_estimate_is_skipped(table: TierTable) -> None:
    no_step = replace(table, mode_step_up={"copy": 0, "reencode": 0})
    load = stitch(clips=1, size_mb=10, resolution="2560x1440", duration_s=120, mode="reencode")
    # On small (1 vCPU): 15 + 2*10/50 + 120*30*3.6864/27 = 506.92 s; twice that > 600 s.
    # On medium (2 vCPUs): 15 + 0.4 + 245.76 = 261.16 s; twice that <= 900 s.
    choice = choose_tier(load, no_step)
    assert choice.tier == "medium"
    assert choice.reasons == (
        "estimated 507 s on small needs a timeout of 1014 s (2x headroom); small allows only 600 s",
    )
    assert choice.estimated_seconds == pytest.approx(261.16)
    assert choice.fits_timeout


def test_a_stitch_too_long_for_every_tier_gets_the_largest_and_a_warning(
    table: TierTable,
) -> None:
    load = stitch(resolution="3840x2160", duration_s=3600, mode="reencode")
    choice = choose_tier(load, table)
    assert choice.tier == "xlarge"
    assert not choice.fits_timeout
    assert "raise its timeout in the tier table or split the stitch" in choice.reasons[-1]


# --- the estimate and the cost, computed by hand ---------------------------------


def test_copy_estimate_and_cost(table: TierTable) -> None:
    choice = choose_tier(stitch(clips=3, size_mb=50, duration_s=24), table)
    # 15 s overhead + 2*50 MB / 50 MB/s + 24 s / 20 = 18.2 s
    # small: 1 vCPU * $0.000024 + 2 GiB * $0.0000025 = $0.000029 per second
    assert choice.tier == "small"
    assert choice.estimated_seconds == pytest.approx(18.2)
    assert choice.estimated_cost_usd == pytest.approx(18.2 * 0.000029)  # $0.0005278
    assert choice.max_cost_usd == pytest.approx(0.0174)  # 600 s * $0.000029


def test_reencode_estimate_and_cost(table: TierTable) -> None:
    load = stitch(clips=10, size_mb=80, resolution="1080x1920", duration_s=80, mode="reencode")
    choice = choose_tier(load, table)
    # large by clip count, re-encode one up: xlarge, 8 vCPUs, 16 GiB.
    # 80 s * 30 fps * 2.0736 MP = 4976.64 MP-frames / (27 * 8) = 23.04 s
    # 15 + 2*80/50 + 23.04 = 41.24 s; xlarge costs 8*0.000024 + 16*0.0000025 = $0.000232/s
    assert (choice.tier, choice.cpu, choice.memory, choice.timeout_s) == (
        "xlarge", "8", "16Gi", 1800
    )  # fmt: skip
    assert choice.estimated_seconds == pytest.approx(41.24)
    assert choice.estimated_cost_usd == pytest.approx(0.00956768)
    assert choice.max_cost_usd == pytest.approx(0.4176)


def test_copy_time_ignores_cpus_reencode_time_divides_by_them(table: TierTable) -> None:
    small, large = table.tier("small"), table.tier("large")
    copy, reencode = stitch(), stitch(mode="reencode")
    assert estimate_seconds(copy, small, table.estimate) == estimate_seconds(
        copy, large, table.estimate
    )
    work_small = estimate_seconds(reencode, small, table.estimate) - 15.4
    work_large = estimate_seconds(reencode, large, table.estimate) - 15.4
    assert work_small == pytest.approx(4 * work_large)


# --- escalation ------------------------------------------------------------------


def test_next_tier_escalates_one_step_and_stops_at_the_top(table: TierTable) -> None:
    assert [next_tier(name, table) for name in table.names] == [
        "medium", "large", "xlarge", None
    ]  # fmt: skip
    with pytest.raises(InvalidSpec, match="unknown stitch tier"):
        next_tier("huge", table)


# --- the load --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("clips", 0, "at least 1 clip"), ("size_bytes", -1, "cannot be negative"),
     ("width", 0, "invalid resolution"), ("duration_s", 0, "above 0 seconds"),
     ("duration_s", float("nan"), "above 0 seconds"), ("mode", "fast", "unknown stitch mode")],
)  # fmt: skip
def test_a_load_out_of_range_is_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        replace(stitch(), **{field: value})


# --- quantities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "gib"),
    [("2Gi", 2), ("512Mi", 0.5), ("16Gi", 16), ("1048576Ki", 1), ("2G", 2e9 / 2**30),
     ("1073741824", 1), (" 1.5Gi ", 1.5)],
)  # fmt: skip
def test_memory_quantities(quantity: str, gib: float) -> None:
    assert parse_memory_gib(quantity) == pytest.approx(gib)


@pytest.mark.parametrize("quantity", ["2GB", "", "Gi", "-1Gi", "0Gi", "2 gi"])
def test_bad_memory_quantities(quantity: str) -> None:
    with pytest.raises(InvalidSpec, match="invalid memory quantity"):
        parse_memory_gib(quantity)


def test_memory_formats_as_the_shortest_exact_binary_quantity() -> None:
    assert [format_memory_gib(g) for g in (2, 0.5, 16, 1.25)] == ["2Gi", "512Mi", "16Gi", "1280Mi"]
    assert format_memory_gib(parse_memory_gib("2G")) == "1953125Ki"


def test_cpu_quantities() -> None:
    assert [parse_cpu(q) for q in (1, "2", "500m", 0.5)] == [1, 2, 0.5, 0.5]
    assert [format_cpu(c) for c in (1.0, 8.0, 0.5)] == ["1", "8", "500m"]
    for bad in ("two", "0", "-1"):
        with pytest.raises(InvalidSpec, match="invalid CPU quantity"):
            parse_cpu(bad)


def test_resolutions() -> None:
    assert parse_resolution("1080x1920") == (1080, 1920)
    assert parse_resolution(" 3840 X 2160 ") == (3840, 2160)
    for bad in ("1080p", "0x1920", "1920*1080", ""):
        with pytest.raises(InvalidSpec, match="invalid resolution"):
            parse_resolution(bad)
    assert fits_within(1080, 1920, (2560, 1440))
    assert not fits_within(2160, 3840, (2560, 1440))


# --- a user's YAML overrides the table -------------------------------------------


def test_an_empty_override_file_changes_nothing(tmp_path: Path, table: TierTable) -> None:
    assert load_tier_table(write(tmp_path, "")) == table


def test_override_prices_key_by_key(tmp_path: Path, table: TierTable) -> None:
    custom = load_tier_table(write(tmp_path, "prices: {cpu_second_usd: 0.000018}\n"))
    assert custom.prices.cpu_second_usd == 0.000018
    assert custom.prices.gib_second_usd == table.prices.gib_second_usd
    assert custom.tiers == table.tiers
    # small at the timeout: 600 s * (0.000018 + 2 * 0.0000025)
    assert choose_tier(stitch(), custom).max_cost_usd == pytest.approx(0.0138)


def test_override_one_tier_field_by_field(tmp_path: Path, table: TierTable) -> None:
    path = write(
        tmp_path,
        "tiers:\n"
        "  - {name: small, limits: {max_clips: 4}}\n"
        "  - {name: medium, resources: {memory: 6Gi}}\n",
    )
    custom = load_tier_table(path)
    assert custom.names == table.names
    assert custom.tier("small").limits.max_size_mb == 100  # kept
    assert tier_for(custom, stitch(clips=4)) == "small"
    choice = choose_tier(stitch(clips=5), custom)
    assert (choice.tier, choice.cpu, choice.memory) == ("medium", "2", "6Gi")


def test_null_removes_a_limit(tmp_path: Path, table: TierTable) -> None:
    custom = load_tier_table(
        write(tmp_path, "tiers: [{name: large, limits: {max_duration_s: null}}]")
    )
    assert tier_for(table, stitch(duration_s=1000)) == "xlarge"
    assert tier_for(custom, stitch(duration_s=1000)) == "large"


def test_an_empty_limits_or_resources_entry_changes_nothing(
    tmp_path: Path, table: TierTable
) -> None:
    path = write(tmp_path, "tiers:\n  - name: xlarge\n    limits:\n    resources:\n")
    assert load_tier_table(path) == table


def test_override_the_mode_rule(tmp_path: Path) -> None:
    custom = load_tier_table(write(tmp_path, "mode_step_up: {reencode: 0}\n"))
    assert tier_for(custom, stitch(mode="reencode")) == "small"


def test_replace_the_whole_list_of_tiers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "replace_tiers: true\n"
        "tiers:\n"
        "  - name: one\n"
        "    limits: {max_clips: 5}\n"
        "    resources: {cpu: 500m, memory: 1Gi, timeout_s: 300}\n"
        "  - {name: two, resources: {cpu: 2, memory: 2Gi, timeout_s: 3600}}\n",
    )
    custom = load_tier_table(path)
    assert custom.names == ("one", "two")
    choice = choose_tier(stitch(clips=5), custom)
    assert (choice.tier, choice.cpu, choice.memory) == ("one", "500m", "1Gi")
    assert tier_for(custom, stitch(clips=6)) == "two"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tiers: [", "not valid YAML"),
        ("- small\n", "top level: expected a mapping"),
        ("tier: []\n", "unknown key 'tier'; expected one of: tiers, replace_tiers"),
        ("tiers: {small: {}}\n", "tiers: expected a list of tiers"),
        ("tiers: [{name: huge}]\n", "tiers[0].name: there is no tier 'huge' to change"),
        ("tiers: [{name: Big Tier}]\n", "tiers[0].name: expected a tier name"),
        ("tiers: [{name: small}, {name: small}]\n", "tier 'small' is listed twice"),
        ("tiers: [{name: medium, resources: {memory: 2GB}}]\n",
         "tiers[medium].resources.memory: expected a quantity"),
        ("tiers: [{name: medium, resources: {memory: 4}}]\n",
         "tiers[medium].resources.memory: expected a quantity of at least 128Mi"),
        ("tiers: [{name: medium, resources: {cpu: two}}]\n",
         "tiers[medium].resources.cpu: expected vCPUs"),
        ("tiers: [{name: medium, resources: {timeout_s: 0}}]\n",
         "tiers[medium].resources.timeout_s: expected a whole number of at least 1, got 0"),
        ("tiers: [{name: small, limits: {max_clips: 2.5}}]\n",
         "tiers[small].limits.max_clips: expected a whole number"),
        ("tiers: [{name: small, limits: {max_clips: true}}]\n",
         "tiers[small].limits.max_clips: expected a whole number"),
        ("tiers: [{name: small, limits: {max_clip: 2}}]\n",
         "tiers[small].limits: unknown key 'max_clip'; expected one of: max_clips"),
        ("tiers: [{name: small, limits: {max_resolution: 1440}}]\n",
         "tiers[small].limits.max_resolution: expected a frame size"),
        ("tiers: [{name: small, limits: {max_size_mb: -5}}]\n",
         "tiers[small].limits.max_size_mb: expected a number above 0"),
        ("tiers: [{name: small, limits: {max_duration_s: null}}]\n",
         "tiers[medium]: its max_duration_s is smaller than small's; tiers go smallest first"),
        ("tiers: [{name: medium, resources: {cpu: 500m}}]\n",
         "tiers[medium]: its cpu is smaller than small's"),
        ("tiers: [{name: xlarge, limits: {max_clips: 20}}]\n",
         "tiers[xlarge].limits: the last tier takes anything else, so it must have no limits"),
        ("replace_tiers: true\n", "missing key 'tiers'"),
        ("replace_tiers: yes please\n", "replace_tiers: expected true or false"),
        ("replace_tiers: true\ntiers: []\n", "tiers: expected at least one tier"),
        ("replace_tiers: true\ntiers: [{name: a, resources: }]\n",
         "tiers[a].resources: missing key 'cpu'"),
        ("replace_tiers: true\ntiers: [{name: a}]\n", "tiers[a]: missing key 'resources'"),
        ("replace_tiers: true\ntiers: [{name: a, resources: {cpu: 1, memory: 1Gi}}]\n",
         "tiers[a].resources: missing key 'timeout_s'"),
        ("prices: {cpu_second_usd: -1}\n",
         "prices.cpu_second_usd: expected a number of at least 0"),
        ("prices: {cpu_usd: 1}\n", "prices: unknown key 'cpu_usd'"),
        ("estimate: {timeout_headroom: 0.5}\n",
         "estimate.timeout_headroom: expected a number of at least 1"),
        ("mode_step_up: {fast: 1}\n", "mode_step_up: unknown key 'fast'"),
        ("mode_step_up: {reencode: -1}\n",
         "mode_step_up.reencode: expected a whole number of at least 0"),
    ],
)  # fmt: skip
def test_a_bad_override_names_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidSpec) as err:
        load_tier_table(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_a_missing_override_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match=r"tier table .*nope\.yaml does not exist"):
        load_tier_table(tmp_path / "nope.yaml")


# --- chalkline tier --------------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(tier, list(args), env=env)
    return result.exit_code, result.output, result.exception


def test_cli_prints_tier_resources_estimate_and_why() -> None:
    code, output, _ = run("--clips", "8", "--size-mb", "120")
    assert code == 0
    lines = output.splitlines()
    assert lines[:4] == ["tier      large", "cpu       4", "memory    8Gi", "timeout   1200 s"]
    assert lines[4].startswith("estimate  ~")
    assert lines[5] == "max cost  $0.1392 (if it runs to the timeout)"  # 1200 * (4*24 + 8*2.5)e-6
    assert lines[6] == "input     8 clips, 120 MB, 1920x1080, 64 s (8 s per clip assumed), copy"
    assert lines[7:] == [
        "why       8 clips: more than medium's limit of 6",
        "          120 MB: not under small's limit of 100 MB",
    ]


def test_cli_resolution_duration_and_mode_each_move_the_choice() -> None:
    base = ["--clips", "3", "--size-mb", "50"]
    assert "tier      small" in run(*base)[1]
    assert "tier      xlarge" in run(*base, "--resolution", "2160x3840")[1]
    assert "tier      medium" in run(*base, "--duration", "121")[1]
    assert "tier      medium" in run(*base, "--mode", "reencode")[1]


def test_cli_json() -> None:
    code, output, _ = run("--clips", "3", "--size-mb", "50", "--duration", "24", "--json")
    assert code == 0
    data = json.loads(output)
    assert data == {
        "tier": "small",
        "cpu": "1",
        "memory": "2Gi",
        "timeout_s": 600,
        "estimated_seconds": 18.2,
        "estimated_cost_usd": 0.000528,
        "max_cost_usd": 0.0174,
        "fits_timeout": True,
        "reasons": [],
        "load": {
            "clips": 3,
            "size_mb": 50.0,
            "resolution": "1920x1080",
            "duration_s": 24.0,
            "duration_assumed": False,
            "mode": "copy",
        },
    }


def test_cli_reads_an_override_from_config_or_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "tiers: [{name: small, limits: {max_clips: 6}}]\n")
    args = ("--clips", "5", "--size-mb", "50", "--json")
    assert json.loads(run(*args)[1])["tier"] == "medium"
    assert json.loads(run(*args, "--config", str(path))[1])["tier"] == "small"
    assert json.loads(run(*args, env={"CHALKLINE_TIERS": str(path)})[1])["tier"] == "small"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clips", "0", "--size-mb", "5"], "at least 1 clip"),
        (["--clips", "2", "--size-mb", "-5"], "--size-mb must be at least 0"),
        (["--clips", "2", "--size-mb", "5", "--resolution", "1080p"], "invalid resolution"),
        (["--clips", "2", "--size-mb", "5", "--duration", "0"], "above 0 seconds"),
        (["--clips", "2", "--size-mb", "5", "--config", "/nope.yaml"], "does not exist"),
    ],
)
def test_cli_bad_values_are_user_errors(args: list[str], message: str) -> None:
    code, _, exception = run(*args)
    assert code == 1
    assert isinstance(exception, InvalidSpec)
    assert message in str(exception)


def test_cli_every_option_has_help() -> None:
    assert all(getattr(param, "help", None) for param in tier.params)
