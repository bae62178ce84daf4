"""One typed settings object, read from arguments and `THINKSWITCH_*` variables, passed down.

Nothing reads the environment after this object is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BudgetStyle = Literal["cut", "thinking_token_budget", "thinking_budget_tokens", "ollama_think"]
#: The chat-completions field that carries thinking (see server/reasoning_field.py).
ReasoningField = Literal["reasoning_content", "reasoning", "both"]
DEFAULT_REASONING_FIELD: ReasoningField = "reasoning_content"
#: Who may read the server's /metrics and /openapi.json (see thinkswitch.server.exposure).
Exposure = Literal["open", "key", "closed"]
#: Token counts beyond any model's context: a larger setting is a typo, refused when read.
MAX_TOKENS = 1 << 24
#: A day: longer timeouts are typos, and 1e308 s overflows the clocks that would wait for them.
MAX_WAIT_S = 86_400.0
#: The most server worker processes (`serve --workers`): one per core is the useful most.
MAX_WORKERS = 64


def default_data_dir() -> Path:
    """`../shared/data` beside the checkout when it exists, else the user's data directory."""
    checkout = Path(__file__).resolve().parents[2]
    beside = checkout.parent / "shared" / "data"
    if beside.is_dir():
        return beside
    return default_state_dir() / "data"


def default_state_dir() -> Path:
    """Where thinkswitch keeps its own files (bench results, later the trace store)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "thinkswitch"


def default_trace_db() -> Path:
    return default_state_dir() / "traces.sqlite"


class Settings(BaseSettings):
    """Configuration of one thinkswitch process."""

    # THINKSWITCH_DATA is the documented name of the data directory; code passes data_dir=.
    model_config = SettingsConfigDict(
        env_prefix="THINKSWITCH_", extra="forbid", populate_by_name=True
    )

    engine: str = Field("llama_cpp", description="engine name (see `thinkswitch engines`)")
    model: str | None = Field(
        None, description="GGUF path (llama_cpp), model name (openai) or recorded model (replay)"
    )
    dialect: str | None = Field(None, description="override the dialect the model suggests")
    data_dir: Path = Field(default_factory=default_data_dir, alias="THINKSWITCH_DATA")

    policy: str = Field("learned", description="triage policy for auto: learned, rules or cascade")
    knob: float | None = Field(None, ge=0.0, le=1.0, description="the policy's threshold")
    triage_model: Path | None = Field(None, description="model file for the learned policy")
    shadow_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="share of auto requests whose other side is run "
        "after the answer, when capacity is free (shadow evaluation; served requests only)")
    shadow_tokens_per_minute: int = Field(
        100_000, ge=0, description="cap on shadow tokens per minute")
    shadow_seed: int | None = Field(None, description="seed of the shadow draw")
    shadow_gauges_s: float = Field(
        10.0, ge=0.0, le=86_400.0, description="seconds between recomputations of the "
        "/metrics estimates of what auto costs, from the trace store's shadow pairs")
    shadow_judge: bool = Field(
        False, description="ask the engine whether a pair's answers agree where the local "
        "judges cannot tell (long free text); its tokens are shadow tokens")

    default_budget: int = Field(1024, ge=1, le=MAX_TOKENS,
                                description="thinking cap when none is given")
    answer_max_tokens: int = Field(512, ge=1, le=MAX_TOKENS, description="cap on answer tokens")
    temperature: float = Field(0.6, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=-(1 << 63), le=(1 << 63) - 1)

    trace_db: str | None = Field(
        None, description="trace store: a SQLite path or postgresql:// URL (default: "
        "traces.sqlite in the user's data directory)"
    )
    record: bool = Field(True, description="record every request in the trace store")
    redact: bool = Field(False, description="store inputs and traces as salted hashes")
    retention_days: float | None = Field(None, gt=0, le=365_000,
                                         description="delete older records")
    prices_file: Path | None = Field(None, description="JSON price table per model")
    trace_signing_key_file: Path | None = Field(
        None, description="Ed25519 private key (PEM, `thinkswitch logs keygen`) that signs the "
        "trace store's checkpoints (THINKSWITCH_TRACE_SIGNING_KEY_FILE)")
    checkpoint_every_records: int = Field(
        100, ge=1, le=10_000_000, description="sign a checkpoint after this many records")
    checkpoint_every_s: float = Field(
        60.0, gt=0, le=86_400, description="sign a checkpoint after this many seconds while "
        "records wait unsigned")

    n_ctx: int = Field(4096, ge=256, le=MAX_TOKENS, description="llama_cpp context window")
    n_threads: int | None = Field(None, ge=1, le=1024)

    base_url: str = Field(
        "http://127.0.0.1:8000/v1",
        description="OpenAI-compatible server; replicas of one model as a comma-separated list",
    )
    api_key: str | None = Field(None, description="bearer token for the server")
    connect_timeout_s: float = Field(5.0, gt=0, le=MAX_WAIT_S)
    read_timeout_s: float = Field(120.0, gt=0, le=MAX_WAIT_S,
                                  description="longest wait between two chunks")
    first_token_timeout_s: float = Field(60.0, gt=0, le=MAX_WAIT_S,
                                         description="wait for the first chunk")
    total_timeout_s: float = Field(600.0, gt=0, le=MAX_WAIT_S,
                                   description="cap on one upstream call")
    breaker_failures: int = Field(
        3, ge=1, le=1_000_000,
        description="consecutive failures that take a replica out (circuit open)")
    breaker_cooldown_s: float = Field(
        10.0, gt=0, le=MAX_WAIT_S,
        description="how long an open circuit waits before a trial request")
    health_interval_s: float = Field(
        5.0, gt=0, le=MAX_WAIT_S,
        description="seconds between health checks of replicas that are out")
    budget_style: BudgetStyle = Field(
        "cut",
        description="'cut': stop the stream at the cap and ask for the answer in a second call; "
        "'thinking_token_budget': send vLLM's server-side cap; 'thinking_budget_tokens': "
        "llama.cpp server's; 'ollama_think': Ollama's think switch, cut at the cap",
    )
    send_prefill: bool = Field(
        False,
        description="send assistant prefill with continue_final_message (vLLM, SGLang)",
    )

