"""The shadow runner a server puts behind its switch, from the switch's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkswitch.kernel.errors import UsageError
from thinkswitch.shadow.limits import Capacity
from thinkswitch.shadow.metrics import ShadowMetrics
from thinkswitch.shadow.runner import ShadowOptions, ShadowRunner
from thinkswitch.shadow.store_gauges import StoreGauges

if TYPE_CHECKING:
    from thinkswitch.switch.pipeline import Switch


def shadow_runner(switch: Switch, capacity: Capacity) -> ShadowRunner:
    """A runner registered as the switch's after-answer step (idle at shadow rate 0). Pairs are
    kept in the trace store, so a positive rate without one is refused; the `/metrics`
    estimates come from the store's pairs (any process's), refreshed at most every
    `shadow_gauges_s` seconds."""
    settings = switch.settings
    if settings.shadow_rate > 0 and switch.recorder is None:
        raise UsageError("shadow evaluation records its pairs in the trace store: a shadow "
                         "rate above 0 needs recording on (record = true)")
    store = switch.trace_store
    gauges = None if store is None else StoreGauges(store, settings.shadow_gauges_s).lines
    runner = ShadowRunner(switch, capacity, ShadowOptions(
        rate=settings.shadow_rate, tokens_per_minute=settings.shadow_tokens_per_minute,
        seed=settings.shadow_seed, judge=settings.shadow_judge), ShadowMetrics(gauges))
    switch.after_answer = (*switch.after_answer, runner)
    return runner
