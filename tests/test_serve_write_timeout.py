"""`serve`'s write timeout (a client that stops reading a response is cut off after it, see
server/protocol.py) is a setting: `[server] write_timeout_s`, `THINKSWITCH_WRITE_TIMEOUT_S`,
`--write-timeout-s`, in that precedence below the flag; above 0, at most an hour."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, thinkswitch

from thinkswitch.cli.serve_cmd import build_server
from thinkswitch.kernel.errors import UsageError

VARIABLE = "THINKSWITCH_WRITE_TIMEOUT_S"


def config_file(tmp_path: Path, server: str = "") -> Path:
    path = tmp_path / "thinkswitch.toml"
    path.write_text(f'[server]\n{server}\n[engine]\nname = "instant"\n'
                    f'[store]\nurl = "{tmp_path / "t.sqlite"}"\n')
    return path


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))  # the server secret's place


@pytest.mark.parametrize(("in_file", "in_env", "flag", "expected"), [
    ("", None, None, 60.0),
    ("write_timeout_s = 5", None, None, 5.0),
    ("", "7.5", None, 7.5),
    ("write_timeout_s = 5", "7.5", None, 5.0),  # the file wins over the variable
    ("write_timeout_s = 5", "7.5", 9.0, 9.0),   # the flag over both
])
def test_the_write_timeout_comes_from_flag_file_variable_default(
        tmp_path: Path, in_file: str, in_env: str | None, flag: float | None,
        expected: float) -> None:
    environ = {VARIABLE: in_env} if in_env is not None else {}
    _, options = build_server(config_file(tmp_path, in_file), {}, {"write_timeout_s": flag},
                              environ=environ)
    assert options.write_timeout_s == expected


def test_the_variable_applies_without_a_config_file(tmp_path: Path) -> None:
    _, options = build_server(None, {"engine": "instant", "trace_db": str(tmp_path / "t.db")},
                              {}, environ={VARIABLE: "12"})
    assert options.write_timeout_s == 12.0


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "7200", "soon", ""])
def test_a_bad_variable_is_a_usage_error_naming_it(tmp_path: Path, value: str) -> None:
    with pytest.raises(UsageError, match=VARIABLE):
        build_server(config_file(tmp_path), {}, {}, environ={VARIABLE: value})


@pytest.mark.parametrize("value", ["0", "-2", "7200"])
def test_a_bad_value_in_the_file_or_the_flag_is_one_line(tmp_path: Path, value: str) -> None:
    in_file = thinkswitch("serve", "--config", str(config_file(tmp_path,
                                                               f"write_timeout_s = {value}")))
    assert_one_line_error(in_file, 2, "write_timeout_s")
    flag = thinkswitch("serve", "--engine", "instant", "--write-timeout-s", value)
    assert_one_line_error(flag, 2, "--write-timeout-s")


def test_serve_runs_the_protocol_with_the_write_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from thinkswitch.server import protocol

    built: list[dict[str, Any]] = []
    real = protocol.server_config

    def server_config(app: Any, host: str, port: int, *limits: Any,
                      **options: Any) -> uvicorn.Config:
        built.append({"limits": limits})
        return real(app, host, port, *limits, **options)

    monkeypatch.setattr(protocol, "server_config", server_config)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    run = thinkswitch("serve", "--config", str(config_file(tmp_path, "write_timeout_s = 4")),
                      env={VARIABLE: "8"})
    assert run.returncode == 0, run.stderr
    assert built and built[0]["limits"][-1] == 4.0
