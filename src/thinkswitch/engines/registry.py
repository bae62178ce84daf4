"""Engines by name. Built-ins are listed here; plugins register through the
`thinkswitch.engines` entry-point group (one tiny hook: a callable taking `Settings`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

from thinkswitch.engines.base import Engine
from thinkswitch.kernel.errors import UnknownNameError
from thinkswitch.settings import Settings

EngineFactory = Callable[[Settings], Engine]


def _llama_cpp(settings: Settings) -> Engine:
    from thinkswitch.engines.llama_cpp import LlamaCppEngine

    return LlamaCppEngine.from_settings(settings)


def _openai(settings: Settings) -> Engine:
    from thinkswitch.engines.openai_compat import OpenAICompatEngine

    return OpenAICompatEngine.from_settings(settings)


def _replay(settings: Settings) -> Engine:
    from thinkswitch.engines.replay import ReplayEngine

    return ReplayEngine.from_settings(settings)


def _instant(settings: Settings) -> Engine:
    from thinkswitch.engines.instant import InstantEngine

    return InstantEngine.from_settings(settings)


def _anthropic(settings: Settings) -> Engine:
    from thinkswitch.engines.anthropic_upstream import AnthropicEngine

    return AnthropicEngine.from_settings(settings)


def _openai_responses(settings: Settings) -> Engine:
    from thinkswitch.engines.responses_upstream import ResponsesEngine

    return ResponsesEngine.from_settings(settings)


def _gemini(settings: Settings) -> Engine:
    from thinkswitch.engines.gemini import GeminiEngine, gemini_settings

    return GeminiEngine.from_settings(gemini_settings(settings))


BUILTIN_ENGINES: Mapping[str, tuple[EngineFactory, str]] = MappingProxyType(
    {
        "llama_cpp": (_llama_cpp, "embedded llama.cpp on a GGUF file (default: SmolLM2-135M)"),
        "openai": (_openai, "OpenAI-compatible servers: vLLM, SGLang, llama.cpp, Ollama, OpenAI"),
        "replay": (_replay, "recorded answers of real reasoning models (../shared/data/outcomes)"),
        "instant": (_instant, "no model: fixed words at once (load tests, overhead benches)"),
        "anthropic": (_anthropic, "Anthropic's Messages API: extended thinking (dialect "
                      "anthropic)"),
        "openai_responses": (_openai_responses, "servers that speak only OpenAI's Responses "
                             "API: reasoning effort and summaries (dialect openai_effort)"),
        "gemini": (_gemini, "Gemini's OpenAI-compatible endpoint: thinking budgets in "
                   "extra_body.google.thinking_config (dialect gemini)"),
    }
)


def engine_factories() -> dict[str, tuple[EngineFactory, str]]:
    """Built-in engines plus those that installed packages register as entry points."""
    found = dict(BUILTIN_ENGINES)
    for point in entry_points(group="thinkswitch.engines"):
        found.setdefault(point.name, (point.load(), f"plugin {point.value}"))
    return found


def create_engine(settings: Settings) -> Engine:
    # A built-in name wins over plugins anyway, so the entry-point scan (tens of ms at start)
    # runs only for other names.
    builtin = BUILTIN_ENGINES.get(settings.engine)
    if builtin is not None:
        return builtin[0](settings)
    factories = engine_factories()
    try:
        factory, _ = factories[settings.engine]
    except KeyError:
        raise UnknownNameError("engine", settings.engine, factories) from None
    return factory(settings)
