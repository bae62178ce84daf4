"""Read a configuration file (TOML or YAML), validate it, and turn it into what the process runs
on: `Settings` values plus the server's own options.

Precedence, highest first: command-line flags, the file, `THINKSWITCH_*` variables, defaults.
Secrets (API keys, the upstream token, the store URL, the signing key) may be given as names of
environment variables (`*_env`) or files; their values never appear in an error or in `show`.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ValidationError

from thinkswitch.config.schema import SECRET_LOCATIONS, ConfigContext, ConfigFile
from thinkswitch.kernel.decision import RequestedMode
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.request import EFFORT_BUDGETS
from thinkswitch.settings import DEFAULT_REASONING_FIELD, Exposure, ReasoningField
from thinkswitch.trace.prices import PriceTable


class ConfigFileError(UsageError):
    """A config file that cannot be used; `problems` lists every problem, one line each."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        count = f"{len(self.problems)} error{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"invalid config {path} ({count}): {self.problems[0]}"
                         + (f"; run `thinkswitch config check {path}` for all"
                            if len(self.problems) > 1 else ""))


@dataclass(frozen=True)
class ServerOptions:
    """What `create_app` and uvicorn take, beyond the switch."""

    host: str = "127.0.0.1"
    port: int = 8000
    default_mode: RequestedMode = "auto"
    capacity: int = 16
    workers: int | None = None  # None: THINKSWITCH_WORKERS, else 1
    api_keys: tuple[str, ...] = ()
    signing_key: bytes | None = None
    max_body_bytes: int = 1 << 20
    cors_origins: tuple[str, ...] = ()
    effort_budgets: Mapping[str, int] = field(default_factory=lambda: dict(EFFORT_BUDGETS))
    body_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024
    write_timeout_s: float = 60.0
    meta_endpoints: Exposure | None = None  # None: closed with API keys, open without
    reasoning_field: ReasoningField = DEFAULT_REASONING_FIELD
    model_budgets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()  # beyond the loopback names on a loopback bind


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    file: ConfigFile
    settings_values: dict[str, Any]
    server: ServerOptions
    prices: PriceTable | None  # inline prices; a price file goes through Settings.prices_file


#: A configuration file is a few kilobytes; anything far larger (or endless, like /dev/zero)
#: is not one.
MAX_CONFIG_BYTES = 1 << 20
#: Deeper than any real configuration; deeper input exhausts the parsers' recursion.
MAX_CONFIG_DEPTH = 32


def read_document(path: Path) -> dict[str, Any]:
    """The file as a mapping. A missing, unreadable, endless, unparsable or absurdly nested
    file is a one-line `UsageError`."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise UsageError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read config file {path}: {error}") from None
    try:
        document = _parse(path, text)
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be a configuration") from None
    if _depth(document) > MAX_CONFIG_DEPTH:
        raise UsageError(f"{path}: nested deeper than {MAX_CONFIG_DEPTH} levels")
    return document


def _depth(value: object) -> int:
    """How deeply tables and lists nest, counted without recursion; each container once
    (YAML aliases may share one, or make it contain itself)."""
    deepest, stack, seen = 0, [(value, 1)], set()
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if id(item) in seen or level > MAX_CONFIG_DEPTH:
            continue
        seen.add(id(item))
        children = (item.values() if isinstance(item, dict)
                    else item if isinstance(item, list) else ())
        stack.extend((child, level + 1) for child in children)
    return deepest


def _parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            document = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise UsageError(f"{path}: YAML syntax error{where}: "
                             f"{error.problem or error.context}") from None
        except yaml.YAMLError as error:
            raise UsageError(f"{path}: YAML syntax error: {error}") from None
        document = {} if document is None else document
    else:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"{path}: TOML syntax error: {error}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: expected a mapping of sections at the top, "
                         f"got {type(document).__name__}")
    return document


def _is_secret(location: tuple[str | int, ...]) -> bool:
    return any(location[: len(secret)] == secret for secret in SECRET_LOCATIONS)


def _model_at(location: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class whose keys live at `location` (for listing the valid keys)."""
    model: Any = ConfigFile
    for part in location:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        model = info.annotation
        if typing.get_origin(model) is dict:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _shown(value: Any) -> str | None:
    """A short repr of a bad value, for scalars and short lists of them only."""
    scalar = (str, int, float, bool)
    if isinstance(value, scalar) or (
            isinstance(value, list) and all(isinstance(item, scalar) for item in value)):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return None


#: Error kinds whose message already names the value (or that have none worth showing).
VALUE_IN_MESSAGE = frozenset({"extra_forbidden", "missing", "unknown_name", "env_not_set",
                              "file_not_found"})


def describe_errors(error: ValidationError) -> list[str]:
    """Every pydantic error as `dotted.location: what is expected (got value)`."""
    lines = []
    for problem in error.errors():
        location = tuple(problem["loc"])
        where = ".".join(str(part) for part in location) or "(top level)"
        kind = problem["type"]
        if kind == "extra_forbidden":
            parent = _model_at(location[:-1])
            valid = ", ".join(parent.model_fields) if parent else ""
            message = "unknown key" + (f"; expected one of: {valid}" if valid else "")
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = problem["msg"]
        quiet = _is_secret(location) or kind in VALUE_IN_MESSAGE
        shown = None if quiet else _shown(problem.get("input"))
        lines.append(f"{where}: {message}" + (f" (got {shown})" if shown is not None else ""))
    return lines


def validate_document(document: Mapping[str, Any], context: ConfigContext) -> ConfigFile:
    return ConfigFile.model_validate(document, context=context)


def _read_keys_file(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _split_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


def settings_values(config: ConfigFile, environ: Mapping[str, str]) -> dict[str, Any]:
    """The `Settings` fields the file sets (None: not set), with secrets resolved."""
    engine, budgets, triage, store = config.engine, config.budgets, config.triage, config.store
    api_key = (environ[engine.api_key_env] if engine.api_key_env
               else engine.api_key.get_secret_value() if engine.api_key else None)
    trace_db = (environ[store.url_env] if store.url_env
                else store.url.get_secret_value() if store.url else None)
    values: dict[str, Any] = {
        "data_dir": config.data_dir,
        "engine": engine.name, "model": engine.model, "dialect": engine.dialect,
        "base_url": ",".join(engine.upstreams) or None, "api_key": api_key,
        "budget_style": engine.budget_style, "send_prefill": engine.send_prefill,
        "n_ctx": engine.n_ctx, "n_threads": engine.n_threads,
        "temperature": engine.temperature, "seed": engine.seed,
        "connect_timeout_s": engine.timeouts.connect_s, "read_timeout_s": engine.timeouts.read_s,
        "first_token_timeout_s": engine.timeouts.first_token_s,
        "total_timeout_s": engine.timeouts.total_s,
        "breaker_failures": engine.breaker.failures,
        "breaker_cooldown_s": engine.breaker.cooldown_s,
        "health_interval_s": engine.breaker.health_interval_s,
        "default_budget": budgets.default, "answer_max_tokens": budgets.answer_max_tokens,
        "policy": triage.policy, "knob": triage.knob, "triage_model": triage.model,
        "shadow_rate": triage.shadow_rate,
        "shadow_tokens_per_minute": triage.shadow_tokens_per_minute,
        "shadow_seed": triage.shadow_seed, "shadow_judge": triage.shadow_judge,
        "shadow_gauges_s": triage.shadow_gauges_s,
        "trace_db": trace_db, "record": store.record, "redact": store.redact,
        "retention_days": store.retention_days, "prices_file": config.prices.file,
        "trace_signing_key_file": store.signing_key_file,
        "checkpoint_every_records": store.checkpoint_every_records,
        "checkpoint_every_s": store.checkpoint_every_s,
    }
    return {name: value for name, value in values.items() if value is not None}


def server_options(config: ConfigFile, environ: Mapping[str, str]) -> ServerOptions:
    server = config.server
    keys = [key.get_secret_value() for key in server.api_keys]
    if server.api_keys_env:
        keys += _split_keys(environ[server.api_keys_env])
    if server.keys_file:
        keys += _read_keys_file(server.keys_file)
    signing_key = None
    if server.signing_key_file:
        signing_key = server.signing_key_file.read_bytes().strip()
    elif server.signing_key_env:
        signing_key = environ[server.signing_key_env].encode("utf-8")
    defaults = ServerOptions()
    return ServerOptions(
        host=server.host or defaults.host,
        port=server.port or defaults.port,
        default_mode=server.default_mode or defaults.default_mode,
        capacity=server.capacity or defaults.capacity,
        workers=server.workers,
        api_keys=tuple(dict.fromkeys(keys)),
        signing_key=signing_key or None,
        max_body_bytes=server.max_body_bytes or defaults.max_body_bytes,
        cors_origins=tuple(server.cors_origins),
        effort_budgets=config.budgets.effort_budgets(),
        body_timeout_s=server.body_timeout_s or defaults.body_timeout_s,
        header_timeout_s=server.header_timeout_s or defaults.header_timeout_s,
        max_header_bytes=server.max_header_bytes or defaults.max_header_bytes,
        write_timeout_s=server.write_timeout_s or defaults.write_timeout_s,
        meta_endpoints=server.meta_endpoints,
        reasoning_field=server.reasoning_field or defaults.reasoning_field,
        model_budgets={name: levels.levels() for name, levels in
                       config.budgets.models.items()},
        allowed_hosts=tuple(server.allowed_hosts),
    )


#: What deploy/.env.example puts in every secret: a deployment that kept it is refused.
PLACEHOLDER = "change-me"


def _secret_problems(config: ConfigFile, environ: Mapping[str, str],
                     options: ServerOptions) -> list[str]:
    """Checks of resolved secret values (the values themselves are never printed)."""
    problems = []
    server = config.server
    if server.signing_key_file or server.signing_key_env:
        where = "server.signing_key_file" if server.signing_key_file else "server.signing_key_env"
        key = options.signing_key or b""
        if len(key) < 32:
            problems.append(f"{where}: the signing key must be at least 32 bytes "
                            f"(it has {len(key)})")
        elif PLACEHOLDER in key.decode("utf-8", "replace").lower():
            problems.append(f"{where}: the signing key is the example's placeholder; "
                            "generate one with `openssl rand -hex 32`")
    if any(PLACEHOLDER in key.lower() for key in options.api_keys):
        problems.append("server: an API key is the example's placeholder (change-me...); "
                        "generate real keys")
    if server.api_keys_env and not _split_keys(environ[server.api_keys_env]):
        problems.append(f"server.api_keys_env: environment variable {server.api_keys_env} "
                        "holds no keys")
    if server.keys_file and not _read_keys_file(server.keys_file):
        problems.append(f"server.keys_file: {server.keys_file} holds no keys")
    return problems


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """The validated file, or `ConfigFileError` listing every problem."""
    env = dict(os.environ) if environ is None else dict(environ)
    document = read_document(path)
    try:
        config = validate_document(document, ConfigContext(path.resolve().parent, env))
    except ValidationError as error:
        raise ConfigFileError(path, describe_errors(error)) from None
    options = server_options(config, env)
    problems = _secret_problems(config, env, options)
    if problems:
        raise ConfigFileError(path, problems)
    inline = (PriceTable(config.prices.models) if config.prices.models else None)
    return LoadedConfig(path, config, settings_values(config, env), options, inline)


def mask_url(url: str) -> str:
    """A URL with its password replaced by ***; a path is returned as it is."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
