"""The configuration file's schema: one strict pydantic model per section, every key described.

Keys left out mean "not set here": the `THINKSWITCH_*` variable or the built-in default applies.
Checks that need the world outside the file (registries, files, environment variables) run as
validators too, so one validation pass reports every problem with its location. They read the
config file's folder and the environment from the validation context (`ConfigContext`), never
from globals.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic.functional_validators import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from thinkswitch.engines.registry import engine_factories
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.settings import MAX_WORKERS, BudgetStyle, Exposure
from thinkswitch.thinking.dialects import DIALECTS
from thinkswitch.trace.prices import Price
from thinkswitch.triage.registry import POLICIES


def _yaml_switch_word(value: object) -> object:
    """YAML 1.1 reads a bare `off` / `on` as false / true: take them back as the mode names."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


ModeName = Annotated[Literal["off", "on", "auto"], BeforeValidator(_yaml_switch_word)]


@dataclass(frozen=True)
class ConfigContext:
    """What validation may look at outside the file: its folder and the environment."""

    base_dir: Path = Path(".")
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def _context(info: ValidationInfo) -> ConfigContext:
    given = info.context
    return given if isinstance(given, ConfigContext) else ConfigContext()


def _problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _known(kind: str, names: Callable[[], Iterable[str]]) -> AfterValidator:
    """A name in a registry; the registry is read when validating (plugins may add engines)."""

    def check(name: str) -> str:
        valid = list(names())
        if name not in valid:
            raise _problem("unknown_name", f"unknown {kind} {name!r}; expected one of: "
                           f"{', '.join(sorted(valid))}")
        return name

    return AfterValidator(check)


def _beside_file(path: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file's folder."""
    resolved = path.expanduser()
    return resolved if resolved.is_absolute() else _context(info).base_dir / resolved


def _existing_file(path: Path, info: ValidationInfo) -> Path:
    resolved = _beside_file(path, info)
    if not resolved.is_file():
        raise _problem("file_not_found", f"file not found: {resolved}")
    return resolved


def _set_variable(name: str, info: ValidationInfo) -> str:
    if name not in _context(info).environ:
        raise _problem("env_not_set", f"environment variable {name} is not set")
    return name


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _problem("not_http_url", "expected an http:// or https:// URL with a host, "
                       "e.g. http://vllm:8000/v1")
    return url


def _origin(origin: str) -> str:
    return origin if origin == "*" else _http_url(origin)


def _allowed_host(name: str) -> str:
    """A name for `allowed_hosts` as the Host guard compares it (lower-case, no trailing dot,
    no IPv6 brackets). The guard compares names only: a port, scheme or path would match no
    request, and the server would refuse every one."""
    if name == "*":
        return name
    bare = name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    if not bare or not bare.isprintable() or any(mark in bare for mark in " @/?#\\"):
        raise _problem("not_host_name", "expected a host name or address, without scheme, "
                       "port or path, e.g. chat.example.com")
    if not bare.isascii():
        raise _problem("not_host_name", "expected the name as a Host header spells it: an "
                       "internationalized name in its xn-- form")
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise _problem("not_host_name", "expected a host name or address without a port "
                           "(the Host guard compares names only), e.g. chat.example.com"
                           ) from None
    return bare


ExistingFile = Annotated[Path, AfterValidator(_existing_file)]
Folder = Annotated[Path, AfterValidator(_beside_file)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
                    AfterValidator(_set_variable)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
EngineName = Annotated[str, _known("engine", lambda: engine_factories())]
DialectName = Annotated[str, _known("dialect", lambda: DIALECTS)]
PolicyName = Annotated[str, _known("policy", lambda: POLICIES)]


def _given(value: object) -> bool:
    return value is not None and value != {} and value != []


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Pairs of fields that may not both be given: (field, field, how the error names them).
    exclusive: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    @model_validator(mode="after")
    def _one_of_each_pair(self) -> Self:
        for first, second, shown in self.exclusive:
            if _given(getattr(self, first)) and _given(getattr(self, second)):
                raise _problem("conflict", f"give {shown}, not both")
        return self


class ServerSection(Section):
    exclusive = (("signing_key_file", "signing_key_env", "signing_key_file or signing_key_env"),)
    host: str | None = Field(None, description="address to listen on (default 127.0.0.1)")
    port: int | None = Field(None, ge=1, le=65535, description="port (default 8000)")
    default_mode: ModeName | None = Field(
        None, description="mode when a request says nothing: off, on or auto (default auto)")
    capacity: int | None = Field(
        None, ge=1, le=100_000, description="requests inside at once; beyond it 429 (default 16)")
    workers: int | None = Field(
        None, ge=1, le=MAX_WORKERS, description="server processes sharing the port, the "
        "capacity and the counters (default THINKSWITCH_WORKERS, else 1)")
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="API keys callers must present (secret: prefer "
        "api_keys_env or keys_file)")
    api_keys_env: EnvName | None = Field(
        None, description="environment variable holding comma-separated API keys")
    keys_file: ExistingFile | None = Field(
        None, description="file with one API key per line ('#' starts a comment)")
    signing_key_file: ExistingFile | None = Field(
        None, description="file with the key that signs thinking blocks; share it across "
        "replicas so any replica verifies a passed-back block")
    signing_key_env: EnvName | None = Field(
        None, description="environment variable holding the signing key")
    max_body_bytes: int | None = Field(
        None, ge=1024, le=1 << 30, description="largest request body accepted; larger: 413")
    cors_origins: list[Annotated[str, AfterValidator(_origin)]] = Field(
        default_factory=list, description="browser origins allowed to call the API ('*': any)")
    body_timeout_s: float | None = Field(
        None, gt=0, le=3600, description="seconds a request body may take to arrive; "
        "later: 408 (default 30)")
    header_timeout_s: float | None = Field(
        None, gt=0, le=3600, description="seconds request headers may take to arrive; "
        "later: 408 and the connection closed (default 10)")
    max_header_bytes: int | None = Field(
        None, ge=1024, le=1 << 24, description="largest request headers accepted; "
        "larger: 431 (default 65536)")
    write_timeout_s: float | None = Field(
        None, gt=0, le=3600, description="seconds a client may leave a response unread (its "
        "socket full); later: the connection is aborted and its slot freed (default 60)")
    meta_endpoints: Exposure | None = Field(
        None, description="who may read /metrics and /openapi.json: open, key (any API key) "
        "or closed (default: closed when API keys are set, else open)")
    reasoning_field: Literal["reasoning_content", "reasoning", "both"] | None = Field(
        None, description="chat-completions field that carries thinking (default "
        "reasoning_content)")
    allowed_hosts: list[Annotated[str, StringConstraints(min_length=1, max_length=253),
                                  AfterValidator(_allowed_host)]] = Field(
        default_factory=list, description="names a request's Host header may give besides "
        "localhost and loopback addresses (which a loopback bind accepts alone, against DNS "
        "rebinding); '*': any")


class TimeoutsSection(Section):
    connect_s: float | None = Field(None, gt=0, description="connecting to an upstream")
    read_s: float | None = Field(None, gt=0, description="longest wait between two chunks")
    first_token_s: float | None = Field(None, gt=0, description="wait for the first chunk")
    total_s: float | None = Field(None, gt=0, description="cap on one upstream call")


class BreakerSection(Section):
    failures: int | None = Field(
        None, ge=1, description="consecutive failures that take a replica out")
    cooldown_s: float | None = Field(
        None, gt=0, description="how long an open circuit waits before a trial request")
    health_interval_s: float | None = Field(
        None, gt=0, description="seconds between health checks of replicas that are out")


class EngineSection(Section):
    exclusive = (("api_key", "api_key_env", "api_key or api_key_env"),)
    name: EngineName | None = Field(None, description="engine (thinkswitch engines)")
    model: str | None = Field(
        None, description="GGUF path (llama_cpp), model name (openai) or recorded model")
    dialect: DialectName | None = Field(None, description="override the model's dialect")
    upstreams: list[HttpUrl] = Field(
        default_factory=list, description="base URLs of the OpenAI-compatible replicas")
    api_key: SecretStr | None = Field(
        None, description="bearer token for the upstreams (secret: prefer api_key_env)")
    api_key_env: EnvName | None = Field(
        None, description="environment variable holding the upstream bearer token")
    budget_style: BudgetStyle | None = Field(
        None, description="'cut' (client-side) or 'thinking_token_budget' (vLLM)")
    send_prefill: bool | None = Field(
        None, description="send assistant prefill with continue_final_message")
    n_ctx: int | None = Field(None, ge=256, description="llama_cpp context window")
    n_threads: int | None = Field(None, ge=1, description="llama_cpp threads")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="sampling temperature")
    seed: int | None = Field(None, description="sampling seed")
    timeouts: TimeoutsSection = Field(default_factory=TimeoutsSection)
    breaker: BreakerSection = Field(default_factory=BreakerSection)

    @model_validator(mode="after")
    def _distinct_upstreams(self) -> EngineSection:
        from thinkswitch.engines.pool import first_repeated

        repeated = first_repeated([str(url) for url in self.upstreams])
        if repeated:
            raise _problem("duplicate", f"upstreams lists {repeated} more than once")
        return self


class ModelBudgetsSection(Section):
    """One model's effort budgets; a level not given keeps the default ratio to `medium`."""

    low: int | None = Field(None, ge=1, description="low effort budget (default medium/4)")
    medium: int = Field(ge=1, description="medium effort budget (required)")
    high: int | None = Field(None, ge=1, description="high effort budget (default 4*medium)")
    xhigh: int | None = Field(None, ge=1, description="xhigh effort budget (default 2*high)")

    @model_validator(mode="after")
    def _increasing(self) -> ModelBudgetsSection:
        levels = self.levels()
        if not levels["low"] < levels["medium"] < levels["high"] < levels["xhigh"]:
            raise _problem("not_increasing", "effort budgets must increase: low < medium < "
                           f"high < xhigh, got {levels}")
        return self

    def levels(self) -> dict[str, int]:
        """Every level: a level not given keeps the default ratios to `medium` (low a
        quarter, high four times, xhigh twice high)."""
        levels = {"low": self.low or max(1, self.medium // 4), "medium": self.medium,
                  "high": self.high or 4 * self.medium}
        levels["xhigh"] = self.xhigh or 2 * levels["high"]
        return levels


class BudgetsSection(Section):
    default: int | None = Field(None, ge=1, description="thinking cap when none is given")
    low: int = Field(EFFORT_BUDGETS["low"], ge=1, description="reasoning_effort=low budget")
    medium: int = Field(EFFORT_BUDGETS["medium"], ge=1,
                        description="reasoning_effort=medium budget")
    high: int = Field(EFFORT_BUDGETS["high"], ge=1, description="reasoning_effort=high budget")
    xhigh: int | None = Field(None, ge=1, description="reasoning_effort=xhigh budget "
                              "(default: twice high)")
    answer_max_tokens: int | None = Field(None, ge=1, description="cap on answer tokens")
    models: dict[str, ModelBudgetsSection] = Field(
        default_factory=dict, description="effort budgets per model name (medium required)")

    @model_validator(mode="after")
    def _increasing(self) -> BudgetsSection:
        if self.xhigh is not None and self.xhigh <= self.high:
            raise _problem("not_increasing", f"effort budgets must increase: high < xhigh, got "
                           f"high={self.high}, xhigh={self.xhigh}")
        if not self.low < self.medium < self.high:
            raise _problem("not_increasing", "effort budgets must increase: low < medium < "
                           f"high, got low={self.low}, medium={self.medium}, high={self.high}")
        return self

    def effort_budgets(self) -> dict[str, int]:
        levels = {"low": self.low, "medium": self.medium, "high": self.high}
        return levels if self.xhigh is None else {**levels, "xhigh": self.xhigh}


class TriageSection(Section):
    policy: PolicyName | None = Field(None, description="triage policy for auto")
    knob: float | None = Field(None, ge=0.0, le=1.0, description="the policy's threshold")
    model: ExistingFile | None = Field(None, description="model file of the learned policy")
    shadow_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="share of auto requests whose other side is run "
        "after the answer when capacity is free, to measure what auto costs (default 0)")
    shadow_tokens_per_minute: int | None = Field(
        None, ge=0, description="cap on shadow tokens per minute (default 100000)")
    shadow_seed: int | None = Field(
        None, description="seed of the shadow draw (default: unpredictable)")
    shadow_judge: bool | None = Field(
        None, description="ask the engine whether a pair's answers agree where the local "
        "judges cannot tell (long free text); its tokens are shadow tokens (default false)")
    shadow_gauges_s: float | None = Field(
        None, ge=0.0, le=86_400.0, description="seconds between recomputations of the /metrics "
        "estimates from the trace store's shadow pairs (default 10)")


def _store_url(url: SecretStr) -> SecretStr:
    text = url.get_secret_value()
    if "://" in text and not text.startswith(("postgresql://", "postgres://")):
        raise _problem("bad_store_url", "expected a SQLite file path or a postgresql:// URL")
    return url


class StoreSection(Section):
    exclusive = (("url", "url_env", "url or url_env"),)
    url: Annotated[SecretStr, AfterValidator(_store_url)] | None = Field(
        None, description="SQLite path or postgresql:// URL (secret when it holds a password: "
        "prefer url_env)")
    url_env: EnvName | None = Field(None, description="environment variable holding the URL")
    record: bool | None = Field(None, description="record every request")
    redact: bool | None = Field(None, description="store inputs and traces as salted hashes")
    retention_days: float | None = Field(None, gt=0, description="delete older records")
    signing_key_file: ExistingFile | None = Field(
        None, description="Ed25519 private key (PEM) that signs checkpoints of the trace log")
    checkpoint_every_records: int | None = Field(
        None, ge=1, le=10_000_000, description="sign a checkpoint after this many records")
    checkpoint_every_s: float | None = Field(
        None, gt=0, le=86_400, description="sign a checkpoint after this many seconds")


class PricesSection(Section):
    exclusive = (("file", "models", "prices.file or prices.models"),)
    file: ExistingFile | None = Field(None, description="JSON price table per model")
    models: dict[str, Price] = Field(
        default_factory=dict, description="USD per million input/output/thinking tokens, "
        "per model name ('*': fallback)")


class ConfigFile(Section):
    """The whole file."""

    data_dir: Folder | None = Field(None, description="data directory (THINKSWITCH_DATA)")
    server: ServerSection = Field(default_factory=ServerSection)
    engine: EngineSection = Field(default_factory=EngineSection)
    budgets: BudgetsSection = Field(default_factory=BudgetsSection)
    triage: TriageSection = Field(default_factory=TriageSection)
    store: StoreSection = Field(default_factory=StoreSection)
    prices: PricesSection = Field(default_factory=PricesSection)


#: Locations whose values are secrets: never echoed in an error or shown unmasked.
SECRET_LOCATIONS = frozenset({("server", "api_keys"), ("engine", "api_key"), ("store", "url")})
