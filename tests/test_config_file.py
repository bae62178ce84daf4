"""The configuration file: its schema, `thinkswitch config check|show`, and `serve --config`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.cli import assert_one_line_error, thinkswitch

from thinkswitch.cli.serve_cmd import build_server
from thinkswitch.config.load import ConfigFileError, load_config, mask_url
from thinkswitch.settings import Settings

SIGNING_KEY = "k" * 40
SECRETS = {"CALLER_KEYS": "caller-one,caller-two", "UPSTREAM_TOKEN": "upstream-t0ken-xyz",
           "DB_URL": "postgresql://ts:db-pa55word@postgres:5432/traces",
           "SIGNING": SIGNING_KEY}

FULL = """
data_dir = "data"

[server]
host = "0.0.0.0"
port = 9000
default_mode = "off"
capacity = 4
api_keys_env = "CALLER_KEYS"
keys_file = "keys.txt"
signing_key_env = "SIGNING"
max_body_bytes = 4096
cors_origins = ["https://chat.example.com"]

[engine]
name = "openai"
model = "Qwen/Qwen3-8B"
dialect = "qwen3"
upstreams = ["http://vllm-0:8000/v1", "http://vllm-1:8000/v1"]
api_key_env = "UPSTREAM_TOKEN"
budget_style = "thinking_token_budget"
send_prefill = true
n_ctx = 8192
n_threads = 2
temperature = 0.3
seed = 11

[engine.timeouts]
connect_s = 2
read_s = 30
first_token_s = 20
total_s = 300

[engine.breaker]
failures = 5
cooldown_s = 15
health_interval_s = 3

[budgets]
default = 800
low = 100
medium = 500
high = 2000
answer_max_tokens = 256

[triage]
policy = "rules"
knob = 0.4
model = "triage.npz"
shadow_rate = 0.2
shadow_tokens_per_minute = 5000
shadow_seed = 11
shadow_judge = true
shadow_gauges_s = 30

[store]
url_env = "DB_URL"
record = true
redact = true
retention_days = 30
signing_key_file = "trace-signing.key"
checkpoint_every_records = 50
checkpoint_every_s = 30

[prices]
file = "prices.json"
"""


def write(folder: Path, text: str, name: str = "thinkswitch.toml") -> Path:
    (folder / "keys.txt").write_text("# callers\nfile-key\n\ncaller-one\n")
    (folder / "prices.json").write_text('{"*": {"input": 1, "output": 2}}')
    (folder / "triage.npz").write_bytes(b"")
    (folder / "trace-signing.key").write_bytes(b"")
    path = folder / name
    path.write_text(text)
    return path


def test_a_full_file_sets_every_setting_and_the_server_options(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, FULL), SECRETS)
    values = loaded.settings_values
    assert values["base_url"] == "http://vllm-0:8000/v1,http://vllm-1:8000/v1"
    assert values["api_key"] == "upstream-t0ken-xyz"
    assert values["trace_db"] == SECRETS["DB_URL"]
    assert values["data_dir"] == tmp_path / "data"  # relative to the file's folder
    assert values["triage_model"] == tmp_path / "triage.npz"
    assert (values["connect_timeout_s"], values["read_timeout_s"],
            values["first_token_timeout_s"], values["total_timeout_s"]) == (2, 30, 20, 300)
    assert (values["breaker_failures"], values["breaker_cooldown_s"],
            values["health_interval_s"]) == (5, 15, 3)
    assert (values["default_budget"], values["answer_max_tokens"]) == (800, 256)
    assert values["prices_file"] == tmp_path / "prices.json"
    assert values["trace_signing_key_file"] == tmp_path / "trace-signing.key"
    assert (values["checkpoint_every_records"], values["checkpoint_every_s"]) == (50, 30)
    assert (values["shadow_rate"], values["shadow_tokens_per_minute"],
            values["shadow_seed"], values["shadow_judge"],
            values["shadow_gauges_s"]) == (0.2, 5000, 11, True, 30)
    # every Settings field can be set from the file: a new field must be added to the schema
    assert set(values) == set(Settings.model_fields)
    settings = Settings(**values)
    assert settings.budget_style == "thinking_token_budget" and settings.redact is True
    server = loaded.server
    assert (server.host, server.port, server.default_mode, server.capacity) == (
        "0.0.0.0", 9000, "off", 4)
    assert server.api_keys == ("caller-one", "caller-two", "file-key")
    assert server.signing_key == SIGNING_KEY.encode()
    assert server.max_body_bytes == 4096
    assert server.cors_origins == ("https://chat.example.com",)
    assert dict(server.effort_budgets) == {"low": 100, "medium": 500, "high": 2000}


def test_yaml_gives_the_same_as_toml(tmp_path: Path) -> None:
    yaml_text = """
server: {port: 9000, default_mode: on, api_keys: [yaml-key]}  # YAML's bare on is true
engine:
  name: openai
  model: m
  upstreams: [http://a:1/v1, https://b/v1]
  timeouts: {read_s: 7}
budgets: {low: 10, medium: 20, high: 30}
"""
    toml_text = """
[server]
port = 9000
default_mode = "on"
api_keys = ["yaml-key"]
[engine]
name = "openai"
model = "m"
upstreams = ["http://a:1/v1", "https://b/v1"]
timeouts = { read_s = 7 }
[budgets]
low = 10
medium = 20
high = 30
"""
    from_yaml = load_config(write(tmp_path, yaml_text, "c.yaml"), {})
    from_toml = load_config(write(tmp_path, toml_text, "c.toml"), {})
    assert from_yaml.settings_values == from_toml.settings_values == {
        "engine": "openai", "model": "m", "base_url": "http://a:1/v1,https://b/v1",
        "read_timeout_s": 7}
    assert from_yaml.server == from_toml.server
    assert from_yaml.server.api_keys == ("yaml-key",)


def test_an_empty_file_is_valid_and_sets_nothing(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, ""), {})
    assert loaded.settings_values == {}
    assert dict(loaded.server.effort_budgets) == {"low": 256, "medium": 1024, "high": 4096}
    assert loaded.server.default_mode == "auto" and loaded.server.api_keys == ()


BROKEN = """
colour = "blue"
[server]
port = 70000
default_mode = "sometimes"
api_keys = ["inline-s3cret-key"]
keys_file = "no-such-keys.txt"
signing_key_env = "NOT_SET_ANYWHERE"
[engine]
name = "warp"
dialect = "klingon"
upstreams = ["http://ok:8000/v1", "ftp://files.example.com"]
api_key = 12345
[engine.timeouts]
read_s = -1
[budgets]
low = 2000
medium = 1000
[triage]
policy = "coin"
knob = 3
[store]
url = "mysql://root:hunter2-pw@db/x"
"""

EXPECTED_PROBLEMS = [
    "server.port: Input should be less than or equal to 65535 (got 70000)",
    "server.default_mode: Input should be 'off', 'on' or 'auto' (got 'sometimes')",
    "server.keys_file: file not found: ",
    "server.signing_key_env: environment variable NOT_SET_ANYWHERE is not set",
    "engine.name: unknown engine 'warp'; expected one of: ",
    "engine.dialect: unknown dialect 'klingon'; expected one of: anthropic, deepseek_r1, "
    "gemini, granite, openai_effort, prompted, qwen3",
    "engine.upstreams.1: expected an http:// or https:// URL",
    "engine.api_key: Input should be a valid string",
    "engine.timeouts.read_s: Input should be greater than 0 (got -1)",
    "budgets: effort budgets must increase: low < medium < high, got low=2000, medium=1000",
    "triage.policy: unknown policy 'coin'; expected one of: cascade, learned, rules",
    "triage.knob: Input should be less than or equal to 1 (got 3)",
    "store.url: expected a SQLite file path or a postgresql:// URL",
    "colour: unknown key; expected one of: data_dir, server, engine, budgets, triage, store, "
    "prices",
]


def test_check_lists_every_error_with_its_location_and_hides_secrets(tmp_path: Path) -> None:
    run = thinkswitch("config", "check", str(write(tmp_path, BROKEN)))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].endswith(f"thinkswitch.toml: {len(EXPECTED_PROBLEMS)} errors")
    problems = [line.strip() for line in lines[1:]]
    assert len(problems) == len(EXPECTED_PROBLEMS)
    for expected in EXPECTED_PROBLEMS:
        assert any(problem.startswith(expected) for problem in problems), expected
    assert "engine.upstreams.1: expected an http:// or https:// URL with a host, e.g. " \
           "http://vllm:8000/v1 (got 'ftp://files.example.com')" in problems
    for secret in ("inline-s3cret-key", "12345", "hunter2-pw"):
        assert secret not in run.stderr + run.stdout


def test_check_summarises_a_valid_file(tmp_path: Path) -> None:
    run = thinkswitch("config", "check", str(write(tmp_path, FULL)), env=SECRETS)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"{tmp_path / 'thinkswitch.toml'}: valid",
        "  engine openai (2 upstreams), model Qwen/Qwen3-8B, dialect qwen3",
        "  server 0.0.0.0:9000, default mode off, capacity 4, 3 API keys, signing key shared",
        "  budgets: default 800, low 100, medium 500, high 2000; answer cap 256",
        "  triage rules (knob 0.4); store postgresql://ts:***@postgres:5432/traces",
    ]


def test_show_prints_the_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    run = thinkswitch("config", "show", str(write(tmp_path, FULL)), env=SECRETS)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["server"]["api_keys"] == ["***"] * 3 and shown["server"]["signing_key"] == "***"
    assert shown["settings"]["api_key"] == "***"
    assert shown["settings"]["trace_db"] == "postgresql://ts:***@postgres:5432/traces"
    assert shown["settings"]["read_timeout_s"] == 30 and shown["settings"]["policy"] == "rules"
    assert shown["effort_budgets"] == {"low": 100, "medium": 500, "high": 2000}
    for secret in ("caller-one", "file-key", "upstream-t0ken", "db-pa55word", SIGNING_KEY):
        assert secret not in run.stdout


@pytest.mark.parametrize(("name", "text", "words"), [
    ("bad.toml", "[server]\nport = \n", "TOML syntax error: Invalid value (at line 2, column 8)"),
    ("bad.yaml", "server:\n  port: [1\n", "YAML syntax error at line 3, column 1"),
    ("list.yaml", "- a\n- b\n", "expected a mapping of sections at the top, got list"),
])
def test_a_syntax_error_is_one_line_with_its_position(tmp_path: Path, name: str, text: str,
                                                      words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert_one_line_error(thinkswitch("config", "check", str(path)), 2, words)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_one_line_error(thinkswitch("config", "check", str(missing)), 2,
                          f"config file not found: {missing}")


@pytest.mark.parametrize(("text", "problem"), [
    ('[server]\nsigning_key_env = "SIGNING"\n',
     "server.signing_key_env: the signing key must be at least 32 bytes (it has 5)"),
    ('[server]\nsigning_key_env = "SIGNING"\nsigning_key_file = "keys.txt"\n',
     "server: give signing_key_file or signing_key_env, not both"),
    ('[engine]\napi_key = "x"\napi_key_env = "SIGNING"\n',
     "engine: give api_key or api_key_env, not both"),
    ('[prices]\nfile = "prices.json"\nmodels = { m = { input = 1 } }\n',
     "prices: give prices.file or prices.models, not both"),
    ('[prices.models.m]\ninput = "free"\n',
     "prices.models.m.input: Input should be a valid number, unable to parse string as a "
     "number (got 'free')"),
    ('[budgets]\nlow = 100\nmedium = 100\n',
     "budgets: effort budgets must increase: low < medium < high, got low=100, medium=100, "
     "high=4096"),
    ('[engine.breaker]\nfailure = 3\n',
     "engine.breaker.failure: unknown key; expected one of: failures, cooldown_s, "
     "health_interval_s"),
    ('[triage]\nmodel = "absent.npz"\n', "triage.model: file not found: "),
    ('[server]\ncors_origins = ["chat.example.com"]\n',
     "server.cors_origins.0: expected an http:// or https:// URL"),
])
def test_semantic_checks(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, text), {"SIGNING": "short"})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)
    assert "short" not in caught.value.problems[0]


def test_the_example_placeholders_are_refused(tmp_path: Path) -> None:
    from support.env_files import env_file

    values = env_file(Path(__file__).parents[1] / "deploy" / ".env.example")
    text = '[server]\nsigning_key_env = "SIGNING_KEY"\napi_keys_env = "API_KEYS"\n'
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, text), values)
    assert caught.value.problems == [
        "server.signing_key_env: the signing key is the example's placeholder; generate one "
        "with `openssl rand -hex 32`",
        "server: an API key is the example's placeholder (change-me...); generate real keys"]
    real = {"SIGNING_KEY": "9f" * 32, "API_KEYS": "k-1a2b3c,k-4d5e6f"}
    assert load_config(write(tmp_path, text), real).server.api_keys == ("k-1a2b3c", "k-4d5e6f")


def test_mask_url() -> None:
    assert mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("/var/lib/traces.sqlite") == "/var/lib/traces.sqlite"


SERVED = """
[server]
default_mode = "off"
keys_file = "keys.txt"
[engine]
name = "instant"
[budgets]
low = 3
medium = 6
high = 12
[store]
url = "{db}"
[prices.models.instant]
input = 1000000
output = 2000000
"""


def chat(client: TestClient, key: str | None, **extra: object) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = client.post("/v1/chat/completions", headers=headers, json={
        "model": "instant", "messages": [{"role": "user", "content": "hi there"}], **extra})
    return {"status": response.status_code, **response.json()}


def test_serve_with_a_config_uses_its_keys_mode_budgets_and_prices(tmp_path: Path) -> None:
    path = write(tmp_path, SERVED.format(db=tmp_path / "traces.sqlite"))
    app, options = build_server(path, {}, {}, environ={})
    assert options.api_keys == ("file-key", "caller-one")
    client = TestClient(app, base_url="http://127.0.0.1")  # a loopback bind checks Host
    assert chat(client, None)["status"] == 401
    plain = chat(client, "file-key")
    assert plain["status"] == 200
    assert plain["thinkswitch"]["decision"]["mode"] == "off"
    assert plain["thinkswitch"]["cost"]["input"] == 2.0  # 2 prompt words at $1 each
    for effort, budget in (("low", 3), ("medium", 6), ("high", 12)):
        reply = chat(client, "caller-one", reasoning_effort=effort)
        assert reply["thinkswitch"]["decision"]["budget"] == budget
        assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == budget
    assert (tmp_path / "traces.sqlite").is_file()


def test_serve_flags_override_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, SERVED.format(db=tmp_path / "traces.sqlite"))
    app, options = build_server(path, {"engine": "instant"},
                                {"default_mode": "on", "api_keys": ("flag-key",), "port": 1234},
                                environ={"THINKSWITCH_API_KEYS": "env-key"})
    assert (options.port, options.default_mode, options.api_keys) == (1234, "on", ("flag-key",))
    client = TestClient(app, base_url="http://127.0.0.1")
    assert chat(client, "file-key")["status"] == 401
    assert chat(client, "env-key")["status"] == 401  # a stale variable adds no keys
    reply = chat(client, "flag-key")
    assert reply["thinkswitch"]["decision"]["mode"] == "on"
    _, only_env = build_server(None, {"engine": "instant"}, {},
                               environ={"THINKSWITCH_API_KEYS": "env-key,other"})
    assert only_env.api_keys == ("env-key", "other")


def test_serve_with_an_invalid_config_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nname = "warp"\n[server]\nport = 0\n')
    assert_one_line_error(thinkswitch("serve", "--config", str(path)), 2,
                          f"invalid config {path} (2 errors): server.port: Input should be "
                          "greater than or equal to 1 (got 0); run `thinkswitch config check")


def test_the_readme_example_is_a_valid_file(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Configuration file", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    environ = {"API_KEYS": "a,b", "SIGNING_KEY": SIGNING_KEY, "UPSTREAM_TOKEN": "t",
               "DATABASE_URL": "postgresql://u:p@db:5432/traces"}
    loaded = load_config(write(tmp_path, example), environ)
    assert loaded.settings_values["base_url"] == "http://vllm-0:8000/v1,http://vllm-1:8000/v1"
    assert dict(loaded.server.effort_budgets) == {"low": 256, "medium": 1024, "high": 4096,
                                                  "xhigh": 8192}
    assert dict(loaded.server.model_budgets) == {"Qwen/Qwen3-8B": {
        "low": 512, "medium": 2048, "high": 6000, "xhigh": 12000}}
    assert loaded.server.reasoning_field == "reasoning_content"


def test_repeated_upstreams_are_refused_by_check_as_by_serve(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nname = "openai"\nupstreams = ["http://a:8000/v1", '
                           '"http://a:8000/v1/"]\n')
    run = thinkswitch("config", "check", str(path))
    assert run.returncode == 2
    assert "upstreams lists http://a:8000/v1 more than once" in run.stderr


def test_reasoning_field_and_xhigh_budget(tmp_path: Path) -> None:
    text = ('[server]\nreasoning_field = "both"\n'
            '[budgets]\nlow = 10\nmedium = 20\nhigh = 30\nxhigh = 90\n')
    loaded = load_config(write(tmp_path, text), {})
    assert loaded.server.reasoning_field == "both"
    assert dict(loaded.server.effort_budgets) == {"low": 10, "medium": 20, "high": 30,
                                                  "xhigh": 90}
    assert load_config(write(tmp_path, ""), {}).server.reasoning_field == "reasoning_content"
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, "[budgets]\nhigh = 300\nxhigh = 300\n"), {})
    assert caught.value.problems[0].startswith("budgets: effort budgets must increase: high < "
                                               "xhigh")
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, '[server]\nreasoning_field = "thoughts"\n'), {})
    assert caught.value.problems[0].startswith("server.reasoning_field")


def test_effort_budgets_per_model(tmp_path: Path) -> None:
    text = ('[budgets.models."qwen3-8b"]\nmedium = 2000\nhigh = 6000\n'
            '[budgets.models."gpt-oss"]\nmedium = 100\n')
    loaded = load_config(write(tmp_path, text), {})
    assert dict(loaded.server.model_budgets) == {
        "qwen3-8b": {"low": 500, "medium": 2000, "high": 6000, "xhigh": 12000},
        "gpt-oss": {"low": 25, "medium": 100, "high": 400, "xhigh": 800}}
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, '[budgets.models.m]\nlow = 10\n'), {})
    assert caught.value.problems[0].startswith("budgets.models.m.medium")
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, '[budgets.models.m]\nmedium = 100\nhigh = 50\n'), {})
    assert "effort budgets must increase" in caught.value.problems[0]


@pytest.mark.parametrize("entry", ["chat.example.com:8080", "https://chat.example.com",
                                   "chat.example.com/v1", "a b", "bücher.example"])
def test_an_allowed_host_the_guard_could_never_match_is_refused(tmp_path: Path,
                                                                 entry: str) -> None:
    """The Host guard compares names only: an entry with a port or a scheme would match no
    request, and the server would answer every one with a 400."""
    path = tmp_path / "hosts.toml"
    path.write_text(f'[server]\nallowed_hosts = ["{entry}"]\n')
    run = thinkswitch("config", "check", str(path))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].endswith("hosts.toml: 1 error") and len(lines) == 2, run.stderr
    assert lines[1].strip().startswith((
        "server.allowed_hosts.0: expected a host name or address",
        "server.allowed_hosts.0: expected the name as a Host header spells it")), run.stderr


def test_allowed_hosts_are_read_as_the_guard_compares_them(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text('[server]\nallowed_hosts = ["Chat.Example.COM.", "[::1]", "10.0.0.2", "*"]\n')
    assert load_config(path, {}).server.allowed_hosts == ("chat.example.com", "::1",
                                                           "10.0.0.2", "*")
