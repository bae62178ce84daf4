"""The trace log's signatures from the command line: keygen, checkpoint, verify with a key or a
kept checkpoint, proof exports checked offline (and tampered), verify on odd databases (exit 1
with the reason, never 70, never a new empty store), and the HTML trace page."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, thinkswitch
from support.trace_helpers import raw_sql, sample_record, sha256_of

from thinkswitch.factory import open_trace_store
from thinkswitch.settings import Settings
from thinkswitch.trace.record import TraceRecord


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys") / "k"
    made = thinkswitch("logs", "keygen", "--out", str(folder))
    assert made.returncode == 0, made.stderr
    private, public = folder / "trace-signing.key", folder / "trace-signing.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    assert f"private (keep it with the store's writer, 0600): {private}" in made.stdout
    again = thinkswitch("logs", "keygen", "--out", str(folder))
    assert_one_line_error(again, 2, "already exists")
    return private, public


def fill(url: str, private: Path, count: int = 5) -> list[TraceRecord]:
    """Records written the way every thinkswitch process writes them: the configured store,
    signing every 2 records and on close."""
    store = open_trace_store(Settings(trace_db=url, trace_signing_key_file=private,
                                      checkpoint_every_records=2))
    records = [store.append(sample_record(index)) for index in range(count)]
    store.close()
    return records


def test_verify_with_the_key_a_kept_checkpoint_and_an_offline_export(
        store_url: str, keypair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keypair
    records = fill(store_url, private)
    latest = thinkswitch("logs", "checkpoint", "--db", store_url)
    assert latest.returncode == 0, latest.stderr
    kept = json.loads(latest.stdout)
    assert (kept["first"], kept["count"], kept["head"]) == (1, 5, records[-1].hash)
    kept_file = tmp_path / "kept.jsonl"
    kept_file.write_text(latest.stdout)

    verdict = "records 1..5 untampered; 0 records after it are chained but not yet signed"
    with_key = thinkswitch("logs", "verify", "--db", store_url, "--key", str(public),
                           "--checkpoint", str(kept_file))
    assert with_key.returncode == 0, with_key.stderr
    assert "chain intact: 5 records verified" in with_key.stdout
    assert "signed checkpoint at record 5 (" in with_key.stdout and verdict in with_key.stdout
    configured = thinkswitch("logs", "verify", "--db", store_url,
                             env={"THINKSWITCH_TRACE_SIGNING_KEY_FILE": str(private)})
    assert configured.returncode == 0 and verdict in configured.stdout
    unkeyed = thinkswitch("logs", "verify", "--db", store_url)
    assert unkeyed.returncode == 0 and "the chain is unkeyed (no --key)" in unkeyed.stdout
    assert "deleting the newest records (or all of them) leaves no mark" in unkeyed.stdout

    export = tmp_path / "export.jsonl"
    made = thinkswitch("logs", "export", "--format", "jsonl", "--proof", "--db", store_url)
    assert made.returncode == 0, made.stderr
    export.write_text(made.stdout)
    lines = [json.loads(line) for line in made.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["header"] + ["record"] * 5 + ["checkpoint"] * 3
    assert [line["record"]["id"] for line in lines[1:6]] == [r.id for r in records]
    offline = thinkswitch("logs", "verify", "--file", str(export), "--key", str(public))
    assert offline.returncode == 0, offline.stderr
    assert "chain intact: 5 records verified" in offline.stdout and verdict in offline.stdout

    # tampered copies of the export
    edited = [dict(line) for line in lines]
    edited[3] = {**lines[3], "record": {**lines[3]["record"], "answer": "forged"}}
    _assert_tampered(tmp_path, edited, public, f"record {records[2].id}", "was changed")
    _assert_tampered(tmp_path, _recomputed(lines, 3, {"caller": "key-thief"}), public,
                     "does not match the checkpoint signed at record",
                     "hash chain recomputed")
    cut = [{**lines[0], "records": 4}, *lines[1:5], *lines[6:]]
    _assert_tampered(tmp_path, cut, public, "truncated", "record 5 was removed")
    _assert_tampered(tmp_path, lines[:5] + lines[6:], public, "the header announces 5 records",
                     "the file holds 4")


def _recomputed(lines: list[dict[str, object]], index: int,
                change: dict[str, object]) -> list[dict[str, object]]:
    """The export with one record changed and the chain after it recomputed (no key)."""
    out = [dict(line) for line in lines]
    previous = None
    for number, line in enumerate(out):
        if line["type"] != "record":
            continue
        record = dict(line["record"])  # type: ignore[call-overload]
        if number == index:
            record.update(change)
        if number >= index:
            if previous is not None:
                record["prev_hash"] = previous
            record["hash"] = sha256_of(record)
        previous = record["hash"]
        out[number] = {**line, "record": record}
    return out


def _assert_tampered(folder: Path, lines: list[dict[str, object]], public: Path,
                     *words: str) -> None:
    path = folder / "tampered.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = thinkswitch("logs", "verify", "--file", str(path), "--key", str(public))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    for text in words:
        assert text in run.stderr, run.stderr


# --- odd databases -----------------------------------------------------------------------------
ODD = {
    "text-in-created_at": (["UPDATE traces SET created_at = 'yesterday' WHERE seq = 2"],
                           "its created_at column holds 'yesterday'"),
    "anchors-missing": (["DROP TABLE trace_anchors"], "no such table: trace_anchors"),
    "anchors-garbled": (["INSERT INTO trace_anchors (seq, prev_hash, deleted, at) "
                         "VALUES ('x', 'y', 'many', 'z')"], "retention anchors"),
    "checkpoints-missing": (["DROP TABLE trace_checkpoints"],
                            "no such table: trace_checkpoints"),
    "checkpoint-garbled": (["UPDATE trace_checkpoints SET body = '{\"count\": 2, \"count\": 9}'"
                            " WHERE id = 1"], "checkpoint row 1 is unreadable: duplicate JSON"),
    "body-not-utf8": (["UPDATE traces SET body = CAST(X'7b22ff227d' AS TEXT) WHERE seq = 2"],
                      "record at seq 2 is unreadable: its body is not valid UTF-8"),
    "body-not-json": (["UPDATE traces SET body = 'garbage' WHERE seq = 3"],
                      "record at seq 3 is unreadable"),
    "id-not-utf8": (["UPDATE traces SET id = CAST(X'ff00' AS TEXT) WHERE seq = 1"],
                    "its id column is not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_verify_on_an_odd_database_exits_1_with_the_reason(
        case: str, keypair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keypair
    db = tmp_path / "odd.sqlite"
    fill(str(db), private, 3)
    statements, words = ODD[case]
    for statement in statements:
        raw_sql(str(db), statement)
    run = thinkswitch("logs", "verify", "--db", str(db), "--key", str(public))
    assert_one_line_error(run, 1, words)


def test_reading_commands_on_a_store_with_a_broken_body_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "odd.sqlite"
    store = open_trace_store(Settings(trace_db=str(db)))
    record = store.append(sample_record(1))
    store.close()
    raw_sql(str(db), "UPDATE traces SET body = CAST(X'7b22ff227d' AS TEXT)")
    for args in (["list"], ["show", record.id], ["stats"], ["export"]):
        run = thinkswitch("logs", *args, "--db", str(db))
        assert_one_line_error(run, 1, "cannot read the trace store")


def test_verify_never_creates_a_store_nor_takes_an_empty_location(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "traces.sqlite"
    for args in (["verify"], ["list"], ["checkpoint"], ["export", "--proof"]):
        run = thinkswitch("logs", *args, "--db", str(missing))
        assert_one_line_error(run, 1, f"no trace store at {missing}")
    assert not missing.parent.exists()
    empty = thinkswitch("logs", "verify", "--db", "")
    assert_one_line_error(empty, 2, "the trace store location is empty")
    empty_env = thinkswitch("logs", "list", env={"THINKSWITCH_TRACE_DB": " "})
    assert_one_line_error(empty_env, 2, "the trace store location is empty")
    assert_one_line_error(thinkswitch("logs", "verify", "--file", str(missing)), 1,
                          "cannot read")
    text = tmp_path / "plain.jsonl"
    text.write_text('{"id": "x"}\n')
    assert_one_line_error(thinkswitch("logs", "verify", "--file", str(text)), 1,
                          "expected a header entry")
    assert_one_line_error(thinkswitch("logs", "export", "--format", "csv", "--proof", "--db",
                                      str(missing)), 2, "--proof needs --format jsonl")


def test_checkpoint_without_a_key_says_how_to_get_one(tmp_path: Path) -> None:
    db = tmp_path / "plain.sqlite"
    store = open_trace_store(Settings(trace_db=str(db)))
    store.append(sample_record(1))
    store.close()
    assert_one_line_error(thinkswitch("logs", "checkpoint", "--db", str(db)), 1,
                          "no signed checkpoint in")
    assert_one_line_error(thinkswitch("logs", "checkpoint", "--new", "--db", str(db)), 2,
                          "--new needs a signing key")


def test_checkpoint_new_signs_the_head_now(keypair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keypair
    db = tmp_path / "late.sqlite"
    store = open_trace_store(Settings(trace_db=str(db)))  # written unkeyed
    records = [store.append(sample_record(index)) for index in range(2)]
    store.close()
    signed = thinkswitch("logs", "checkpoint", "--new", "--db", str(db),
                         env={"THINKSWITCH_TRACE_SIGNING_KEY_FILE": str(private)})
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["head"] == records[-1].hash
    run = thinkswitch("logs", "verify", "--db", str(db), "--key", str(public))
    assert run.returncode == 0 and "records 1..2 untampered" in run.stdout
    assert os.path.exists(db)


# --- the HTML trace page -----------------------------------------------------------------------
HOSTILE = '<script>alert("q")</script><img src="https://evil.example/x.png">'


def test_show_html_is_one_self_contained_escaped_page(tmp_path: Path) -> None:
    db = tmp_path / "page.sqlite"
    store = open_trace_store(Settings(trace_db=str(db)))
    record = store.append(sample_record(
        3, messages=[{"role": "user", "content": f"How many legs? {HOSTILE}"}],
        thinking="Step 1: a spider has 8 legs.\n\nStep 2: 3 × 8 = 24. </pre><b>bold</b>",
        answer=f"24 {HOSTILE}",
        decision={"requested": "auto", "mode": "on", "budget": 256, "policy": "rules",
                  "score": 0.71, "reason": "cue: arithmetic & <counting>"}))
    store.close()
    run = thinkswitch("logs", "show", record.id[:10], "--format", "html", "--db", str(db))
    assert run.returncode == 0, run.stderr
    page = run.stdout
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt;" in page
    assert "cue: arithmetic &amp; &lt;counting&gt;" in page
    assert "default-src 'none'" in page  # nothing outside the page may load
    for text in (record.id, record.hash, record.prev_hash, "thinking_tokens", "250",
                 "total_s", "3.500 s", f"{record.cost.total:.6f} USD", "rules", "0.71",
                 "Step 2: 3 × 8 = 24."):
        assert text in page, text
    assert "src=" not in page.replace("&lt;img src=", "") and "href=" not in page
    assert_one_line_error(thinkswitch("logs", "show", record.id, "--format", "pdf", "--db",
                                      str(db)), 2, "unknown show format 'pdf'")
    _screenshot(page, tmp_path)


def _screenshot(page: str, folder: Path) -> None:
    """Chromium renders the page offline; no request leaves it; a screenshot for reviewers."""
    chromium = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not os.access(chromium, os.X_OK):
        pytest.skip(f"{chromium} is missing (apt-get install chromium)")
    path = folder / "trace.html"
    path.write_text(page, encoding="utf-8")
    artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 900, "height": 1200})
        requests: list[str] = []
        dialogs: list[str] = []
        tab.on("request", lambda request: requests.append(request.url))
        tab.on("dialog", lambda dialog: dialogs.append(dialog.message))
        tab.goto(path.as_uri())
        assert "Trace " in tab.locator("h1").inner_text()
        assert HOSTILE in tab.locator("pre").first.inner_text()  # shown as text, not run
        tab.screenshot(path=str(artifacts / "trace-page.png"), full_page=True)
        browser.close()
    assert requests == [path.as_uri()] and dialogs == []


@pytest.mark.parametrize(("statement", "words"), [
    ("DROP TABLE trace_anchors", 'relation "trace_anchors" does not exist'),
    ("DROP TABLE trace_checkpoints", 'relation "trace_checkpoints" does not exist'),
    ("UPDATE trace_checkpoints SET body = 'null'", "checkpoint row 1 is unreadable"),
    ("UPDATE traces SET body = '[]' WHERE seq = 2", "record at seq 2 is unreadable"),
], ids=["anchors-missing", "checkpoints-missing", "checkpoint-garbled", "body-not-object"])
def test_verify_on_an_odd_postgres_database_exits_1(
        pg_url: str, keypair: tuple[Path, Path], statement: str, words: str) -> None:
    private, public = keypair
    fill(pg_url, private, 3)
    raw_sql(pg_url, statement)
    assert_one_line_error(thinkswitch("logs", "verify", "--db", pg_url, "--key", str(public)),
                          1, words)


def test_numbered_steps_flags_and_ratings_are_on_the_html_page(tmp_path: Path) -> None:
    """Steps as the switch stores them, feedback as people give it (records of their own
    that reference the trace): the page numbers the steps and puts each flag on its step."""
    from thinkswitch.thinking.steps import split_steps
    from thinkswitch.trace.feedback import Feedback
    from thinkswitch.trace.recorder import Recorder

    db = tmp_path / "steps.sqlite"
    store = open_trace_store(Settings(trace_db=str(db)))
    thinking = "First, a spider has 8 legs.\n\nWait, <3> spiders make 24."
    steps = [step.model_dump() for step in split_steps(thinking)]
    assert len(steps) == 2
    record = store.append(sample_record(1, thinking=thinking, steps=steps))
    recorder = Recorder(store)
    recorder.feedback(record, Feedback(step=2, verdict="wrong", comment="<not> three"))
    recorder.feedback(record, Feedback(verdict="wrong", correction="24 & more"))
    store.close()
    run = thinkswitch("logs", "show", record.id, "--format", "html", "--db", str(db))
    assert run.returncode == 0, run.stderr
    page = run.stdout
    assert '<ol class="steps">' in page and '<li value="2">' in page
    assert "<pre>First, a spider has 8 legs.</pre>" in page
    assert "Wait, &lt;3&gt; spiders make 24." in page
    assert '<span class="flag">wrong: &lt;not&gt; three</span>' in page
    assert "(correction: 24 &amp; more)" in page


def test_a_served_store_signs_its_last_records_on_shutdown(
        keypair: tuple[Path, Path], tmp_path: Path) -> None:
    """`thinkswitch serve` with a key: requests are recorded; SIGTERM (a normal shutdown)
    signs a checkpoint over every one of them, so nothing is left unsigned."""
    import signal
    import subprocess
    import sys

    import httpx
    from support.live_server import free_port
    from support.startup_wait import wait_until_answering

    private, public = keypair
    db, port = tmp_path / "served.sqlite", free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "thinkswitch", "serve", "--engine", "instant", "--db", str(db),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "THINKSWITCH_TRACE_SIGNING_KEY_FILE": str(private),
             "THINKSWITCH_CHECKPOINT_EVERY_RECORDS": "1000",
             "THINKSWITCH_CHECKPOINT_EVERY_S": "3600"})
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/health", server, 60, "thinkswitch serve")
        for question in ("one", "two", "three"):
            answered = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={
                "model": "instant", "messages": [{"role": "user", "content": question}],
                "thinking": {"type": "disabled"}}, timeout=30)
            assert answered.status_code == 200, answered.text
        assert raw_sql(str(db), "SELECT COUNT(*) FROM trace_checkpoints") == [(0,)]
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    # uvicorn shuts down cleanly, then re-raises SIGTERM on itself: -15 is a normal end here
    assert server.returncode in (0, -signal.SIGTERM) and "Traceback" not in err, err
    run = thinkswitch("logs", "verify", "--db", str(db), "--key", str(public), "--all-signed")
    assert run.returncode == 0, run.stderr
    assert "records 1..3 untampered; 0 records after it" in run.stdout


def test_each_ask_signs_what_it_recorded_when_it_exits(
        keypair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keypair
    db = tmp_path / "asked.sqlite"
    env = {"THINKSWITCH_TRACE_SIGNING_KEY_FILE": str(private)}
    for question in ("first?", "second?"):
        asked = thinkswitch("ask", question, "--think", "off", "--engine", "instant",
                            "--db", str(db), env=env)
        assert asked.returncode == 0, asked.stderr
    assert [row[0] for row in raw_sql(str(db), "SELECT count FROM trace_checkpoints "
                                      "ORDER BY count")] == [1, 2]
    run = thinkswitch("logs", "verify", "--db", str(db), "--key", str(public), "--all-signed")
    assert run.returncode == 0 and "records 1..2 untampered; 0 records" in run.stdout


def test_bad_key_files_are_one_line_errors(keypair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keypair
    db = tmp_path / "k.sqlite"
    fill(str(db), private, 1)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    assert_one_line_error(thinkswitch("logs", "verify", "--db", str(db), "--key", str(junk)),
                          1, f"{junk} is not a PEM public key")
    assert_one_line_error(thinkswitch("logs", "verify", "--db", str(db), "--key",
                                      str(tmp_path / "none.pub")), 1, "cannot read key file")
    asked = thinkswitch("ask", "q", "--think", "off", "--engine", "instant", "--db", str(db),
                        env={"THINKSWITCH_TRACE_SIGNING_KEY_FILE": str(public)})
    assert_one_line_error(asked, 1, "is not an unencrypted PEM private key")
    # the private key file verifies too: its public half is used
    run = thinkswitch("logs", "verify", "--db", str(db), "--key", str(private))
    assert run.returncode == 0 and "records 1..1 untampered" in run.stdout
