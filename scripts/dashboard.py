"""The event-day dashboard as a PNG, from the lab's emulator: `make dashboard` (scripts/dashboard.sh).

Reads the environment's dashboard (GetDashboard <prefix>-event-day, which roles/platform_monitoring
puts; when it is not there, makes it here with the same filter and module:
filter_plugins/arena_dashboard.py, library/arena_cloudwatch_dashboard.py), writes sample metrics of a
replayed event (scripts/dashboard_sample.py), and draws the dashboard body as CloudWatch lays it out:
one panel per widget on the 24-column grid, each metric widget's metrics from GetMetricData (in the
widget's region: CloudFront's in us-east-1), its vertical annotations as dashed lines with their
labels, text widgets as text, and the alarm status widget as a table of DescribeAlarms' states.

The emulator (moto 5.2) computes no percentile: a graph's ``pNN`` statistic is asked as ``Maximum``
(``--percentiles-as``). The sample has one datapoint per metric and minute, so with one-minute
periods every statistic of a period is that datapoint.

Run: ``make dashboard``; or, with the emulator up and the platform built,
``python scripts/dashboard.py --out docs/event-day-dashboard.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import dashboard_sample as sample  # noqa: E402 -- the script's directory is not a package

GRID_WIDTH = 24
COLUMN_PX, ROW_PX, DPI = 60, 42, 100  # one grid column and one grid row, in pixels
FOOTER_ROWS = 1
PAD_PX = 6  # between panels
STATE_COLOURS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#9e9e9e"}
PERCENTILE = re.compile(r"^p\d+(\.\d+)?$")
QUERIES_PER_CALL = 500  # GetMetricData: up to 500 queries per request


@dataclass(frozen=True)
class Series:
    label: str
    times: list[datetime]
    values: list[float]


@dataclass(frozen=True)
class Mark:
    """A vertical annotation: when, and its label."""

    when: datetime
    label: str


def pixel_size(body: dict[str, Any]) -> tuple[int, int]:
    """The PNG's width and height in pixels: the grid's 24 columns by its rows, plus the footer."""
    rows = max((w.get("y", 0) + w.get("height", 6) for w in body.get("widgets", [])), default=0)
    return GRID_WIDTH * COLUMN_PX, (rows + FOOTER_ROWS) * ROW_PX


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def metric_queries(
    properties: dict[str, Any], percentiles_as: str | None
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """GetMetricData queries of a metric widget, the label of each, and what is left out (expressions)."""
    queries: list[dict[str, Any]] = []
    labels: list[str] = []
    skipped: list[str] = []
    previous: list[Any] | None = None
    for entry in properties.get("metrics", []):
        parts, options = sample.parse_metric(entry, previous)
        previous = parts
        if "expression" in options or len(parts) < 2:
            skipped.append(options.get("label") or options.get("expression") or str(entry))
            continue
        stat = options.get("stat") or properties.get("stat") or "Average"
        if percentiles_as and PERCENTILE.match(stat):
            stat = percentiles_as
        dimensions = [{"Name": n, "Value": v} for n, v in zip(parts[2::2], parts[3::2], strict=False)]
        queries.append(
            {
                "Id": f"m{len(queries)}",
                "MetricStat": {
                    "Metric": {"Namespace": parts[0], "MetricName": parts[1], "Dimensions": dimensions},
                    "Period": int(options.get("period") or properties.get("period") or 300),
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        )
        labels.append(options.get("label") or parts[1])
    return queries, labels, skipped


def fetch(
    client: Any, properties: dict[str, Any], start: datetime, end: datetime, percentiles_as: str | None
) -> list[Series]:
    """The widget's metrics from GetMetricData, one series per metric, in the widget's order."""
    queries, labels, _ = metric_queries(properties, percentiles_as)
    found: dict[str, tuple[list[datetime], list[float]]] = {}
    for first in range(0, len(queries), QUERIES_PER_CALL):
        answer = client.get_metric_data(
            MetricDataQueries=queries[first : first + QUERIES_PER_CALL],
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
        for result in answer["MetricDataResults"]:
            found[result["Id"]] = ([t.astimezone(UTC) for t in result["Timestamps"]], list(result["Values"]))
    return [Series(label, *found.get(q["Id"], ([], []))) for q, label in zip(queries, labels, strict=True)]


@dataclass(frozen=True)
class AlarmRow:
    name: str
    state: str
    since: datetime | None
    reason: str


def alarm_rows(clients: Callable[[str], Any], arns: list[str]) -> list[AlarmRow]:
    """DescribeAlarms of the widget's alarms (each in the region of its ARN), in the widget's order;
    an alarm that does not exist shows as such."""
    by_region: dict[str, list[str]] = {}
    for arn in arns:
        region, name = arn.split(":")[3], arn.split(":alarm:", 1)[1]
        by_region.setdefault(region, []).append(name)
    found: dict[str, AlarmRow] = {}
    for region, names in by_region.items():
        for first in range(0, len(names), sample.DESCRIBE_BATCH):
            answer = clients(region).describe_alarms(AlarmNames=names[first : first + sample.DESCRIBE_BATCH])
            for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", []):
                since = alarm.get("StateUpdatedTimestamp")
                found[alarm["AlarmName"]] = AlarmRow(
                    alarm["AlarmName"],
                    alarm["StateValue"],
                    since.astimezone(UTC) if since else None,
                    alarm.get("StateReason", ""),
                )
    rows = []
    for arn in arns:
        name = arn.split(":alarm:", 1)[1]
        rows.append(found.get(name, AlarmRow(name, "MISSING", None, "no such alarm")))
    return rows


# ---- drawing -------------------------------------------------------------------------------------

# Inside a metric widget's card: room for the title above the plot, the y ticks left of it, the
# x ticks and the legend below it (pixels).
LINE_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)))
GRAPH_MARGINS = {"left": 40, "right": 8, "top": 20, "bottom": 36}
CARD_MARGINS = {"left": 6, "right": 6, "top": 20, "bottom": 6}
TEXT_MARGINS = {"left": 4, "right": 4, "top": 4, "bottom": 4}


@dataclass(frozen=True)
class Canvas:
    """The figure and its grid: ``rows`` grid rows above the footer."""

    fig: Figure
    rows: int

    @property
    def size(self) -> tuple[int, int]:
        return GRID_WIDTH * COLUMN_PX, (self.rows + FOOTER_ROWS) * ROW_PX

    def card(self, widget: dict[str, Any], margins: dict[str, int]) -> tuple[Axes, tuple[float, float]]:
        """A white card over the widget's grid cell, and the axes inside it ``margins`` (pixels) in;
        also the axes' size in pixels."""
        width_px, height_px = self.size
        x, y = widget.get("x", 0) * COLUMN_PX + PAD_PX / 2, widget.get("y", 0) * ROW_PX + PAD_PX / 2
        w, h = widget.get("width", 6) * COLUMN_PX - PAD_PX, widget.get("height", 6) * ROW_PX - PAD_PX

        def rect(left: float, top: float, width: float, height: float) -> tuple[float, float, float, float]:
            return (left / width_px, 1 - (top + height) / height_px, width / width_px, height / height_px)

        back = self.fig.add_axes(rect(x, y, w, h))
        back.set_xticks([])
        back.set_yticks([])
        back.set_facecolor("white")
        for side in back.spines.values():
            side.set_color("#d5d5d5")
        inner_w = w - margins["left"] - margins["right"]
        inner_h = h - margins["top"] - margins["bottom"]
        ax = self.fig.add_axes(rect(x + margins["left"], y + margins["top"], inner_w, inner_h))
        ax.set_facecolor("none")
        return ax, (inner_w, inner_h)


def title(ax: Axes, text: str) -> None:
    if text:
        ax.set_title(text, fontsize=8.5, loc="left", fontweight="bold", pad=4)


def bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def draw_text(ax: Axes, widget: dict[str, Any], size_px: tuple[float, float]) -> None:
    """A text widget's markdown: headings bold, emphasis marks dropped, wrapped to the panel."""
    bare(ax)
    lines: list[tuple[str, float, str]] = []
    for raw in widget.get("properties", {}).get("markdown", "").splitlines():
        level = len(raw) - len(raw.lstrip("#"))
        text = raw.lstrip("#").strip().replace("**", "")
        size, weight = (11.0, "bold") if level == 1 else (9.0, "bold") if level > 1 else (8.0, "normal")
        chars = int(size_px[0] / (size * 0.55 * DPI / 72))  # about 0.55 em per character
        lines.extend((part, size, weight) for part in textwrap.wrap(text, chars) or [""])
    y = 1.0
    for text, size, weight in lines:
        ax.text(0.0, y, text, fontsize=size, fontweight=weight, va="top", ha="left", transform=ax.transAxes)
        y -= size * 1.4 * DPI / 72 / size_px[1]


def draw_alarms(ax: Axes, widget: dict[str, Any], rows: list[AlarmRow], size_px: tuple[float, float]) -> None:
    """The alarm status widget as a table filling its card: alarm, state (coloured), since, reason."""
    bare(ax)
    title(ax, widget.get("properties", {}).get("title", "alarms"))
    if not rows:
        ax.text(0.5, 0.5, "no alarms", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        return
    cells = [
        [
            r.name,
            r.state,
            r.since.strftime("%H:%M UTC") if r.since else "",
            textwrap.shorten(r.reason, 70, placeholder="..."),
        ]
        for r in rows
    ]
    table = ax.table(
        cellText=cells,
        colLabels=["alarm", "state", "since", "reason"],
        colWidths=[0.4, 0.13, 0.1, 0.37],
        bbox=(0, 0, 1, 1),
        cellLoc="left",
        edges="horizontal",
    )
    table.auto_set_font_size(False)
    row_px = size_px[1] / (len(rows) + 1)
    table.set_fontsize(max(4.5, min(7.0, row_px * 0.62 * 72 / DPI)))
    for (row, _column), cell in table.get_celld().items():
        cell.set_edgecolor("#e4e4e4")
        cell.PAD = 0.02
        if row == 0:
            cell.set_text_props(fontweight="bold")
    for index, row in enumerate(rows, start=1):
        table[index, 1].set_text_props(color=STATE_COLOURS.get(row.state, "#ff7f0e"), fontweight="bold")


def thousands(value: float, _position: int) -> str:
    return f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}"


def draw_graph(
    ax: Axes,
    widget: dict[str, Any],
    series: list[Series],
    *,
    marks: list[Mark],
    start: datetime,
    end: datetime,
    size_px: tuple[float, float],
) -> None:
    """A metric widget: its series as lines, its vertical annotations (and ``marks``) as dashed lines."""
    properties = widget.get("properties", {})
    title(ax, properties.get("title", ""))
    for index, line in enumerate(series):
        # solid, then dashed and dotted: lines that coincide (desired = floor) stay visible
        style = {"linestyle": LINE_STYLES[index % len(LINE_STYLES)], "linewidth": 2.0 if index == 0 else 1.4}
        if line.values:
            ax.plot(line.times, line.values, label=line.label, **style)
        else:
            ax.plot([], [], label=f"{line.label} (no data)", **style)
    annotations = properties.get("annotations", {})
    notes = [Mark(parse_time(a["value"]), a.get("label", "")) for a in annotations.get("vertical", [])]
    for mark in notes + marks:
        if start <= mark.when <= end:
            ax.axvline(mark.when, color="#555555", linestyle="--", linewidth=0.9)
            ax.text(
                mark.when,
                0.97,
                f" {mark.label}",
                transform=ax.get_xaxis_transform(),
                fontsize=6.5,
                va="top",
                ha="left",
                color="#333333",
                bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6},
            )
    for note in annotations.get("horizontal", []):
        ax.axhline(float(note["value"]), color="#d62728", linestyle=":", linewidth=0.9)
    left = properties.get("yAxis", {}).get("left", {})
    highest = max((max(line.values) for line in series if line.values), default=0.0)
    # Headroom above the data for the annotations' labels; all zero (no errors): 0-1, not matplotlib's
    # +-0.05.
    top = left.get("max") if left.get("max") is not None else (highest * 1.2 if highest > 0 else 1)
    ax.set_ylim(bottom=left.get("min"), top=top)
    if left.get("label"):
        ax.set_ylabel(left["label"], fontsize=7, labelpad=2)
    ax.set_xlim(start, end)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.xaxis.set_major_locator(mdates.HourLocator(tz=UTC))
    ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    counts = all(float(v).is_integer() for line in series for v in line.values)  # instances, errors
    ax.yaxis.set_major_locator(MaxNLocator(5, integer=counts))
    ax.tick_params(labelsize=6.5, length=2, pad=1.5)
    ax.grid(True, color="#ececec", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(
        fontsize=6.5,
        loc="upper left",
        bbox_to_anchor=(0, -13 / size_px[1]),
        ncol=3,
        frameon=False,
        borderaxespad=0,
        handlelength=1.2,
        columnspacing=1.0,
    )


def render(
    body: dict[str, Any],
    clients: Callable[[str], Any],
    start: datetime,
    end: datetime,
    out: Path,
    *,
    marks: Sequence[Mark] = (),
    default_region: str = "eu-west-1",
    percentiles_as: str | None = None,
    footer: str = "",
) -> tuple[int, int]:
    """Draw ``body`` as a PNG at ``out``; ``clients(region)`` gives a CloudWatch client of that region.
    Returns the PNG's size in pixels (pixel_size)."""
    width, height = pixel_size(body)
    canvas = Canvas(
        plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="#f2f3f3"), height // ROW_PX - FOOTER_ROWS
    )
    for widget in body.get("widgets", []):
        kind = widget.get("type")
        properties = widget.get("properties", {})
        if kind == "metric":
            ax, size_px = canvas.card(widget, GRAPH_MARGINS)
            client = clients(properties.get("region") or default_region)
            series = fetch(client, properties, start, end, percentiles_as)
            draw_graph(ax, widget, series, marks=list(marks), start=start, end=end, size_px=size_px)
        elif kind == "alarm":
            ax, size_px = canvas.card(widget, CARD_MARGINS)
            draw_alarms(ax, widget, alarm_rows(clients, properties.get("alarms", [])), size_px)
        elif kind == "text":
            ax, size_px = canvas.card(widget, TEXT_MARGINS)
            draw_text(ax, widget, size_px)
        else:
            ax, _ = canvas.card(widget, CARD_MARGINS)
            bare(ax)
            title(ax, f"{kind} widget (not drawn here)")
    fig = canvas.fig
    if footer:
        fig.text(0.004, 0.5 * ROW_PX / height, footer, fontsize=6.5, color="#555555", va="center", wrap=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=fig.get_facecolor(), metadata={"Software": None})
    plt.close(fig)
    return width, height


# ---- make dashboard ------------------------------------------------------------------------------


def aws_clients() -> Callable[[str], Any]:
    """boto3 clients of the loopback emulator, one per (service, region), made on first use."""
    import boto3  # noqa: PLC0415 -- only the command needs boto3; the renderer takes clients

    url = sample.endpoint()
    made: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in made:
            made[service, region] = boto3.client(service, region_name=region, endpoint_url=url)
        return made[service, region]

    return client  # type: ignore[return-value]


def ensure_dashboard(make: Any, name: str, view: dict[str, Any], now: datetime) -> tuple[dict[str, Any], str]:
    """The dashboard's body from GetDashboard; when it does not exist (roles/platform_monitoring not
    run), made first with the filter and the module, as the role makes it. Returns (body, how)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    cloudwatch = make("cloudwatch", view["region"])
    try:
        return json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]), "read (GetDashboard)"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFound":
            raise
    filters = plugin_loader()["load_filter_file"]
    calendar = filters("arena_calendar").arena_events(
        sample.read_yaml(sample.LOCAL_VARS / "events.yml", "arena_events")
    )
    body = filters("arena_dashboard").arena_dashboard_body(view, calendar, {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    module = load_module()
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper  # noqa: PLC0415

    params = {
        "state": "present",
        "name": name,
        "body": body,
        "tags": {"Project": "arena", "ManagedBy": "make dashboard"},
    }
    module.run(RetryingBotoClientWrapper(cloudwatch, module.RETRY), params, check_mode=False)
    return body, "made here (filter + module; roles/platform_monitoring did not put it)"


def load_module() -> Any:
    """library/arena_cloudwatch_dashboard.py with the repository's module_utils importable, as Ansible ships it."""
    import ansible.module_utils  # noqa: PLC0415

    utils = str(ROOT / "module_utils")
    if utils not in ansible.module_utils.__path__:
        ansible.module_utils.__path__.append(utils)
    return plugin_loader()["load_file"](
        ROOT / "library" / "arena_cloudwatch_dashboard.py", "_arena_cloudwatch_dashboard"
    )


def plugin_loader() -> dict[str, Any]:
    """The repository's one loader of filter and module files (module_utils/arena_plugin_loader.py)."""
    return runpy.run_path(str(ROOT / "module_utils" / "arena_plugin_loader.py"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "event-day-dashboard.png")
    parser.add_argument("--hours", type=float, default=4.0, help="the window: the last HOURS hours")
    parser.add_argument("--percentiles-as", default="Maximum", help="statistic asked for pNN (the emulator has none)")
    args = parser.parse_args(argv)
    region = os.environ.get("AWS_REGION", "eu-west-1")
    arena = sample.read_yaml(sample.LOCAL_VARS / "arena.yml")
    environment = arena["arena_environment"]
    prefix = f"{arena['arena_project']}-{environment}"
    namespace = sample.read_yaml(ROOT / "tiers.yml", "arena_observability")["metrics_namespace"]
    make = aws_clients()
    services = ("elbv2", "autoscaling", "elasticache", "cloudfront", "sesv2", "ec2", "sts")
    clients = {s: make(s, region) for s in services}
    clients.update({f"cloudwatch:{r}": make("cloudwatch", r) for r in (region, "us-east-1")})
    view = sample.discover_view(clients, prefix, environment, region, namespace)
    now = datetime.now(UTC)
    name = f"{prefix}-event-day"
    body, how = ensure_dashboard(make, name, view, now)
    replay = sample.replay_event(now, args.hours)
    floors = {
        g["AutoScalingGroupName"][len(prefix) + 1 :]: g["MinSize"]
        for g in clients["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    cw = {
        r: make("cloudwatch", r)
        for r in {region, "us-east-1", *(w.get("properties", {}).get("region", region) for w in body["widgets"])}
    }
    if cw[region].list_metrics(Namespace="AWS/ApplicationELB", MetricName="RequestCount")["Metrics"]:
        # a second sample would add to the first (Sum of RequestCount doubled where they overlap)
        raise SystemExit("dashboard: the emulator holds load balancer metrics already: reset it (make dashboard does)")
    written, unknown = sample.put_sample(cw, body, view, replay, floors)
    kick = replay.event.start
    names = [n for names in view["alarms"].values() for n in names]
    settled = sample.settle_alarms(
        cw[region], view["alarms"].get(region, []), f"sample replay: no breach at {now:%H:%M} UTC"
    )
    if "us-east-1" in view["alarms"] and region != "us-east-1":
        settled += sample.settle_alarms(cw["us-east-1"], view["alarms"]["us-east-1"], "sample replay")
    end = replay.at(replay.minutes)
    footer = (
        f"{name}: {how}; metrics from the lab's emulator (GetMetricData),"
        f" {replay.start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC. Sample: '{replay.event.name}'"
        f" ({replay.event.peak_viewers} viewers) replayed with kick-off at {kick:%H:%M} UTC"
        " (simulation/replay.py, inventories/local capacity model); latency, 5xx blip, memory, cache and mail figures"
        f" illustrative. p99 asked as {args.percentiles_as} (the emulator has no percentiles; one datapoint a minute)."
    )
    size = render(
        body,
        lambda r: cw.get(r) or make("cloudwatch", r),
        replay.start,
        end,
        args.out,
        marks=[Mark(kick, f"{replay.event.name} (replayed)")],
        default_region=region,
        percentiles_as=args.percentiles_as,
        footer=footer,
    )
    print(f"dashboard {name}: {how}; {len(body['widgets'])} widgets")
    print(f"sample: {written} datapoints, kick-off {kick:%H:%M} UTC; {settled} of {len(names)} alarms set OK")
    if unknown:
        print(f"no sample for: {', '.join(unknown)}")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} ({size[0]}x{size[1]} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
