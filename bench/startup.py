"""Start-up time of the command line: whole-process wall times, repeated.

Each command runs `--runs` times as a fresh process (`python -m thinkswitch ...`, the same
interpreter as the entry point); the rounds interleave the commands so load drifts hit them
alike, and `python -c pass` runs alongside as the floor of the machine at that moment.
Prints min / median / max per command. Targets (issue 18): `--help` <= 0.25 s and
`ask --think off --engine instant hi` <= 0.5 s.

    .venv/bin/python bench/startup.py --runs 10
    .venv/bin/python bench/startup.py --runs 10 --baseline-src /tmp/old/src  # side by side

With `--baseline-src`, every command also runs from that source tree (PYTHONPATH), in the
same rounds, for a before/after ratio on one loaded machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass (floor)": ["-c", "pass"],
    "thinkswitch --help": ["-m", "thinkswitch", "--help"],
    "ask --think off --engine instant hi": ["-m", "thinkswitch", "ask", "--think", "off",
                                            "--engine", "instant", "hi"],
    "logs list": ["-m", "thinkswitch", "logs", "list", "--limit", "1"],
}


def timed(args: list[str], env: dict[str, str]) -> float:
    """One whole-process run, in seconds (a failing command is an error, not a timing)."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {run.stderr.strip()[-300:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline-src", help="another checkout's src/, timed alongside")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "THINKSWITCH_TRACE_DB": os.path.join(folder, "traces.db")}
        variants = {"": env}
        if args.baseline_src:
            variants["baseline: "] = {**env, "PYTHONPATH": args.baseline_src,  # its own store
                                      "THINKSWITCH_TRACE_DB": os.path.join(folder, "old.db")}
        times: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for name, command in COMMANDS.items():
                for label, variant_env in variants.items():
                    times.setdefault(label + name, []).append(timed(command, variant_env))
    print(f"load average {os.getloadavg()[0]:.1f}, {args.runs} runs each, seconds")
    print(f"{'command':50} {'min':>6} {'median':>7} {'max':>6}")
    for name, values in times.items():
        print(f"{name:50} {min(values):6.3f} {statistics.median(values):7.3f} "
              f"{max(values):6.3f}")


if __name__ == "__main__":
    main()
