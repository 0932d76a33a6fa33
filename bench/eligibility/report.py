"""Medians, the summary tables, and the raw results as JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.eligibility.measure import Measurement
from bench.eligibility.rounds import BUSY_ELSEWHERE, Phase, problems_of


def median(values: Iterable[float | None]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def phase_valid(phase: Phase) -> bool:
    return all(m.valid for m in _all(phase))


def warnings(phase: Phase) -> list[str]:
    found = []
    others = median(m.other_cores for m in _all(phase))
    if others > BUSY_ELSEWHERE:
        found.append(
            f"other processes kept ~{others:.2f} cores busy during the measured windows "
            "(machine_busy_seconds in the JSON): absolute figures are disturbed, ratios less"
        )
    for m in phase.fixed_rate:
        if m.target_rps and m.qps < 0.95 * m.target_rps:
            found.append(
                f"fixed rate round {m.round}: {m.role} reached {m.qps:,.0f} of "
                f"{m.target_rps:,} rps, so its latency there is queueing, not service time"
            )
    return found


def _of(measurements: list[Measurement], role: str) -> list[Measurement]:
    return [m for m in measurements if m.role == role]


def round_ratios(measurements: list[Measurement]) -> list[float]:
    """service/baseline QPS for each round where both measurements are valid."""
    baseline = {m.round: m for m in _of(measurements, "baseline") if m.valid}
    ratios = []
    for service in _of(measurements, "service"):
        base = baseline.get(service.round)
        if service.valid and base is not None and base.qps > 0:
            ratios.append(service.qps / base.qps)
    return ratios


def _role_medians(measurements: list[Measurement], role: str) -> dict[str, float]:
    """Medians over the role's valid measurements (an invalid one counted errors as answers)."""
    chosen = [m for m in _of(measurements, role) if m.valid]
    return {
        "valid_measurements": len(chosen),
        "qps": median(m.qps for m in chosen),
        "p50_ms": median(m.p50_ms for m in chosen),
        "p99_ms": median(m.p99_ms for m in chosen),
        "server_cpu_seconds": median(m.server_cpu_seconds for m in chosen),
        "server_cpu_us_per_request": median(m.server_cpu_us_per_request for m in chosen),
        "database_cpu_seconds": median(m.database_cpu_seconds for m in chosen),
        "database_cpu_us_per_request": median(
            m.database_cpu_seconds / m.succeeded * 1e6
            for m in chosen
            if m.database_cpu_seconds is not None and m.succeeded
        ),
        "h2load_cpu_seconds": median(m.h2load_cpu_seconds for m in chosen),
        "unaccounted_cpu_seconds": median(m.unaccounted_cpu_seconds for m in chosen),
    }


def summarize(phase: Phase) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for mode in ("throughput", "unloaded", "fixed_rate"):
        measurements: list[Measurement] = getattr(phase, mode)
        if not measurements:
            continue
        ratios = round_ratios(measurements)
        summary[mode] = {
            "baseline": _role_medians(measurements, "baseline"),
            "service": _role_medians(measurements, "service"),
            "qps_ratio_per_round": ratios,
            "qps_ratio_median": median(ratios),
            "rounds": len(_of(measurements, "service")),
            "valid": all(m.valid for m in measurements),
        }
        if mode == "fixed_rate":
            summary[mode]["target_rps"] = measurements[0].target_rps
    return summary


def _ms(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2f}"


def _n(value: float, width: int, spec: str = ",.0f") -> str:
    """A number right-aligned in `width`, or "-" when there is none (no valid measurement)."""
    return f"{'-' if not math.isfinite(value) else format(value, spec):>{width}}"


def phase_table(phase: Phase) -> str:
    lines = [
        f"== {phase.layout} / {phase.variant}: A = {phase.baseline_label}, "
        f"B = {phase.service_label}",
        f"{'round':>5} {'A QPS':>9} {'B QPS':>9} {'B/A':>6}  {'A p50/p99 ms':>15}  "
        f"{'B p50/p99 ms':>15}  {'A CPU s':>7} {'B CPU s':>7}  {'A/B us/req':>13}  checks",
    ]
    baseline = {m.round: m for m in _of(phase.throughput, "baseline")}
    for b in _of(phase.throughput, "service"):
        a = baseline.get(b.round)
        if a is None:
            continue
        ratio = b.qps / a.qps if a.qps else math.nan
        lines.append(
            f"{b.round:>5} {a.qps:>9,.0f} {b.qps:>9,.0f} {ratio:>6.3f}  "
            f"{_ms(a.p50_ms):>7}/{_ms(a.p99_ms):<7}  {_ms(b.p50_ms):>7}/{_ms(b.p99_ms):<7}  "
            f"{a.server_cpu_seconds:>7.2f} {b.server_cpu_seconds:>7.2f}  "
            f"{a.server_cpu_us_per_request:>6.0f}/{b.server_cpu_us_per_request:<6.0f}  "
            f"{'ok' if a.valid and b.valid else 'INVALID'}"
        )
    summary = summarize(phase)
    if "throughput" in summary:
        t = summary["throughput"]
        a, b = t["baseline"], t["service"]
        lines.append(
            f"{'med':>5} {_n(a['qps'], 9)} {_n(b['qps'], 9)} {_n(t['qps_ratio_median'], 6, '.3f')}  "
            f"{_ms(a['p50_ms']):>7}/{_ms(a['p99_ms']):<7}  "
            f"{_ms(b['p50_ms']):>7}/{_ms(b['p99_ms']):<7}  "
            f"{_n(a['server_cpu_seconds'], 7, '.2f')} {_n(b['server_cpu_seconds'], 7, '.2f')}  "
            f"{_n(a['server_cpu_us_per_request'], 6)}/{_n(b['server_cpu_us_per_request'], 0):<6}  "
            f"(B/A: median of {len(t['qps_ratio_per_round'])} valid rounds' ratios)"
        )
    if "throughput" in summary and math.isfinite(
        summary["throughput"]["service"]["database_cpu_seconds"]
    ):
        b = summary["throughput"]["service"]
        lines.append(
            f"B's database server (unpinned) used {b['database_cpu_seconds']:.2f} s CPU per "
            f"round, {b['database_cpu_us_per_request']:.0f} us per request, on top of B's own"
        )
    if "unloaded" in summary:
        u = summary["unloaded"]
        lines.append(
            f"unloaded, 1 in flight: A p50/p99 {_ms(u['baseline']['p50_ms'])}/"
            f"{_ms(u['baseline']['p99_ms'])} ms ({_n(u['baseline']['qps'], 0)} QPS), "
            f"B {_ms(u['service']['p50_ms'])}/{_ms(u['service']['p99_ms'])} ms "
            f"({_n(u['service']['qps'], 0)} QPS)"
        )
    if "fixed_rate" in summary:
        f = summary["fixed_rate"]
        lines.append(
            f"fixed rate {f['target_rps']:,} rps: A achieved {_n(f['baseline']['qps'], 0)}, "
            f"p50/p99 {_ms(f['baseline']['p50_ms'])}/{_ms(f['baseline']['p99_ms'])} ms; "
            f"B achieved {_n(f['service']['qps'], 0)}, "
            f"p50/p99 {_ms(f['service']['p50_ms'])}/{_ms(f['service']['p99_ms'])} ms"
        )
    lines.extend(f"note: {note}" for note in phase.notes)
    lines.extend(f"WARNING: {warning}" for warning in warnings(phase))
    return "\n".join(lines)


def overview(phases: list[Phase]) -> str:
    lines = [
        f"{'phase':<18} {'A QPS':>9} {'B QPS':>9} {'B/A':>6} {'B p50/p99 ms':>15} "
        f"{'B 1-in-flight p50/p99':>22} {'B us CPU/req':>12}  valid",
    ]
    for phase in phases:
        s = summarize(phase)
        t = s.get("throughput")
        if t is None:
            continue
        u = s.get("unloaded", {}).get("service", {})
        valid = all(v["valid"] for v in s.values())
        lines.append(
            f"{phase.layout + '/' + phase.variant:<18} {_n(t['baseline']['qps'], 9)} "
            f"{_n(t['service']['qps'], 9)} {_n(t['qps_ratio_median'], 6, '.3f')} "
            f"{_ms(t['service']['p50_ms']) + '/' + _ms(t['service']['p99_ms']):>15} "
            f"{_ms(u.get('p50_ms', math.nan)) + '/' + _ms(u.get('p99_ms', math.nan)):>22} "
            f"{_n(t['service']['server_cpu_us_per_request'], 12)}  {'yes' if valid else 'NO'}"
        )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON without NaN (null instead), dataclasses as objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, meta: dict[str, Any], phases: list[Phase], problems: list[str]) -> None:
    document = {
        "meta": meta,
        "valid": not problems and all(phase_valid(p) for p in phases),
        "problems": problems,
        "phases": [_phase_document(phase) for phase in phases],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(document), indent=2, ensure_ascii=False) + "\n")


def _phase_document(phase: Phase) -> dict[str, Any]:
    document: dict[str, Any] = _plain(phase)
    for mode in ("throughput", "unloaded", "fixed_rate"):
        document[mode] = [
            {**_plain(m), "valid": m.valid, "problems": problems_of(m)}
            for m in getattr(phase, mode)
        ]
    document["summary"] = _plain(summarize(phase))
    document["warnings"] = warnings(phase)
    return document


def _all(phase: Phase) -> list[Measurement]:
    return [*phase.throughput, *phase.unloaded, *phase.fixed_rate]
