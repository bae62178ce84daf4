"""A throw-away PostgreSQL server for the tests, from Debian's `postgresql` package.

`make test` installs the package when it is missing (as root, i.e. in CI). The server runs from
a temporary data directory on 127.0.0.1 and a free port, with trust authentication and
`fsync=off`; as root it runs as the `postgres` system user, since PostgreSQL refuses root. When
it cannot start here the tests that need it skip with the reason, unless
`THINKSWITCH_REQUIRE_POSTGRES=1` (set by `make test` as root), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from support.live_server import free_port

SUPERUSER = "postgres"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("THINKSWITCH_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (THINKSWITCH_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


def find_bin_dir() -> Path | None:
    """$THINKSWITCH_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin with initdb, else
    initdb on PATH."""
    if os.environ.get("THINKSWITCH_PG_BIN"):
        given = Path(os.environ["THINKSWITCH_PG_BIN"])
        return given if (given / "initdb").exists() else None
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        text = Path(path).parents[1].name
        return tuple(int(part) for part in text.split(".") if part.isdigit())

    if found:
        return Path(max(found, key=version)).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """initdb + pg_ctl start in a temporary directory; `stop` removes everything."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' system user to run "
                            "the server as (install Debian's postgresql package)")
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.root = Path(tempfile.mkdtemp(prefix="thinkswitch-pg-"))
        if self.run_as:
            os.chown(self.root, self.run_as["user"], self.run_as["group"])
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], capture_output=True,
                              text=True, timeout=120, cwd=self.root, check=False,
                              env={**os.environ, "LC_ALL": "C"}, **self.run_as)

    def start(self) -> None:
        made = self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", SUPERUSER,
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if made.returncode != 0:
            self.stop()
            unavailable(f"initdb failed: {(made.stderr or made.stdout).strip()[-400:]}")
        for _ in range(3):  # another process may take the free port between probe and start
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=60")
            started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                                "-t", "60", "-o", options, "start")
            if started.returncode == 0 and self._wait_ready():
                return
        log = self.log.read_text(errors="replace")[-400:] if self.log.exists() else ""
        self.stop()
        unavailable(f"the server did not start: {started.stderr.strip()[-200:]} {log}")

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    @contextlib.contextmanager
    def fresh_database(self) -> Iterator[str]:
        name = f"thinkswitch_test_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (it is a thinkswitch dependency: pip install -e .)")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable("no initdb in $THINKSWITCH_PG_BIN, /usr/lib/postgresql/*/bin or on PATH "
                    "(install Debian's postgresql package; `make test` does so as root)")
    server = PostgresServer(bin_dir)
    server.start()
    return server
