"""Per-program cost of the bubblewrap code sandbox against the launcher it replaced (issue 14).

Grades every MBPP reference solution (test split, 500 programs) twice through `CodeChecker`:
once in the bubblewrap sandbox (`bwrap`: namespaces, seccomp, limits, pids cgroup as root) and
once with the old launcher (`unsafe`: `unshare` namespaces, audit hook, limits; as root also
`setpriv` to uid 65534 and Debian's python3, as bwrap), alternating the
two program by program so machine noise hits both alike. One program at a time, so the figure is
the latency a grade adds, not throughput. Both runs must pass every program: the suite stays
usable. Writes ms per program (median, mean, p90) for each, and the ratio of the medians and of
the totals, to bench/results/sandbox_overhead.json.

    .venv/bin/python bench/sandbox_overhead.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from thinkswitch.bench.code_suites import MBPP_FILE, CodeChecker, read_mbpp
from thinkswitch.bench.sandbox import Isolation, describe_isolation
from thinkswitch.settings import default_data_dir

ISOLATIONS: tuple[Isolation, ...] = ("bwrap", "unsafe")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N MBPP programs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/sandbox_overhead.json"))
    args = parser.parse_args()
    items = read_mbpp(default_data_dir() / MBPP_FILE)[: args.limit]
    checkers = {isolation: CodeChecker(isolation=isolation) for isolation in ISOLATIONS}
    times: dict[str, list[float]] = {isolation: [] for isolation in ISOLATIONS}
    failed: dict[str, list[str]] = {isolation: [] for isolation in ISOLATIONS}
    for index, item in enumerate(items):
        answer = f"```python\n{item.gold}\n```"
        order = ISOLATIONS if index % 2 == 0 else ISOLATIONS[::-1]
        for isolation in order:
            started = time.perf_counter()
            verdict = checkers[isolation].check(item, answer)
            times[isolation].append(1000 * (time.perf_counter() - started))
            if not verdict.correct:
                failed[isolation].append(f"{item.id}: {verdict.detail}")
    summary: dict[str, object] = {"programs": len(items), "isolation": describe_isolation()}
    for isolation in ISOLATIONS:
        values = times[isolation]
        summary[isolation] = {
            "median_ms": statistics.median(values),
            "mean_ms": statistics.fmean(values),
            "p90_ms": percentile(values, 0.9),
            "total_s": sum(values) / 1000,
            "failed": failed[isolation],
        }
    summary["ratio_median"] = statistics.median(times["bwrap"]) / statistics.median(
        times["unsafe"])
    summary["ratio_total"] = sum(times["bwrap"]) / sum(times["unsafe"])
    table = Table(title=f"sandbox overhead, {len(items)} MBPP reference solutions")
    for column in ("launcher", "median ms", "mean ms", "p90 ms", "failed"):
        table.add_column(column)
    for isolation in ISOLATIONS:
        row = summary[isolation]
        assert isinstance(row, dict)
        table.add_row(isolation, f"{row['median_ms']:.1f}", f"{row['mean_ms']:.1f}",
                      f"{row['p90_ms']:.1f}", str(len(row["failed"])))
    console = Console()
    console.print(table)
    console.print(f"bwrap / unsafe: {summary['ratio_median']:.2f}x median, "
                  f"{summary['ratio_total']:.2f}x total")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
