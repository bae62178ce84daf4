"""`thinkswitch triage calibrate --policy cascade`: a think-rate into a confidence threshold.

The cascade's score is the confidence of a fast attempt, which only a live engine can give:
replay tables record none. So this runs the fast attempt (thinking off, no thinking run) of
each dev question of a live suite on the configured engine, with the configured answer cap, and
takes the quantile of the confidences.
"""

from __future__ import annotations

from pathlib import Path

import typer

from thinkswitch.bench.suites import is_replay, load_live_suite
from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.request import Request
from thinkswitch.switch.probe import calibrate, confidence_of


def calibrate_cascade(rate: float, suites: list[str], data_dir: Path | None,
                      limit: int | None, policy_name: str = "cascade") -> None:
    for name in suites:
        if is_replay(name):
            raise UsageError(f"{name}: replay tables record no confidences; calibrate cascade on "
                             "a live suite (gsm8k, svamp, ...), whose fast attempts run on the "
                             "configured engine")
    if not 0.0 < rate < 1.0:
        raise UsageError(f"think-rate must be strictly between 0 and 1, got {rate}")
    settings = load_settings(data_dir=data_dir, policy=policy_name)
    switch = build_switch(settings, record=False)
    confidences: list[float] = []
    try:
        policy = switch.policy.probes_first
        if policy is None:
            raise UsageError(f"the {switch.policy.name} policy does not probe first")
        for name in suites:
            for item in load_live_suite(name, settings.data_dir, limit, 0).items:
                confidence = confidence_of(switch, policy, Request.build(item.prompt))
                confidences.append(confidence.value)
    finally:
        switch.close()
    threshold = calibrate(confidences, rate)
    achieved = sum(value < threshold for value in confidences) / len(confidences)
    typer.echo(f"threshold {threshold:.4f}: think-rate {achieved:.1%} on {len(confidences)} dev "
               f"questions (target {rate:.1%}; confidence of the fast attempt on "
               f"{switch.engine.name}:{switch.engine.model}); use --knob {threshold:.4f}")
