"""`thinkswitch logs`: list, show, export, stats and verify the trace store; keygen and
checkpoint for its signatures (logs_sign_cmd.py)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from thinkswitch.cli.logs_feedback import feedback_cmd
from thinkswitch.cli.logs_sign_cmd import checkpoint_cmd, existing_location, keygen, verify_cmd
from thinkswitch.cli.options import parse_since
from thinkswitch.cli.terminal_text import shown, spreadsheet_cell
from thinkswitch.factory import load_settings, open_trace_store
from thinkswitch.kernel.errors import UsageError
from thinkswitch.trace.html_view import trace_page
from thinkswitch.trace.proof import proof_lines
from thinkswitch.trace.record import TraceRecord, record_id_of
from thinkswitch.trace.stats import auto_savings, stats, verdicts
from thinkswitch.trace.store import SqlTraceStore

logs_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Query, export and verify the trace store.")
logs_app.command("feedback")(feedback_cmd)
logs_app.command("verify")(verify_cmd)
logs_app.command("keygen")(keygen)
logs_app.command("checkpoint")(checkpoint_cmd)

Db = Annotated[str | None, typer.Option(help="trace store: SQLite path or postgresql:// URL")]


def _store(db: str | None) -> SqlTraceStore:
    """The store, which must exist: reading commands never create an empty one."""
    existing_location(db)
    return open_trace_store(load_settings(trace_db=db))


def _when(record: TraceRecord) -> str:
    return dt.datetime.fromtimestamp(record.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@logs_app.command("list")
def list_cmd(
    since: Annotated[str | None, typer.Option(help="only records from this UTC time on")] = None,
    mode: Annotated[str | None, typer.Option(help="off or on")] = None,
    policy: Annotated[str | None, typer.Option(help="user, rules, learned@v2, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000_000)] = 20,
    db: Db = None,
) -> None:
    """The newest records, one line each."""
    store = _store(db)
    table = Table()
    for column in ("id", "time (UTC)", "mode", "policy", "think", "answer", "tokens t/a", "s"):
        table.add_column(column)
    for record in store.records(parse_since(since), mode, policy, limit):
        question = record.messages[-1]["content"] if record.messages else ""
        total = record.timings.get("total_s")
        table.add_row(
            record.id[:12], _when(record),
            shown(f"{record.decision.get('requested', '-')}→{record.decision.get('mode', '-')}"),
            shown(str(record.decision.get("policy", record.kind))),
            shown(_short(question, 40)),
            shown("ERROR: " + record.error if record.error else _short(record.answer, 40)),
            f"{record.usage.get('thinking_tokens', 0)}/{record.usage.get('answer_tokens', 0)}",
            f"{total:.2f}" if isinstance(total, float) else "-",
        )
    store.close()
    Console(soft_wrap=True).print(table)


@logs_app.command()
def show(record_id: Annotated[str, typer.Argument(
             help="a record id or its prefix; a request id (x-request-id, request-id) or a "
             "response id (chatcmpl-…, msg_…, resp_…) names its record")],
         format: Annotated[str, typer.Option(
             "--format", help="text, or html: one self-contained page to archive or print")
         ] = "text",
         db: Db = None) -> None:
    """One record in full: decision, thinking, answer, usage, timings, cost, chain."""
    if format not in ("text", "html"):
        raise UsageError(f"unknown show format {format!r}; valid: html, text")
    store = _store(db)
    record_id = record_id_of(record_id)
    record = store.get(record_id) or next(
        (r for _, r in store.chain() if r.id.startswith(record_id)), None)
    feedback = store.related("feedback", ref=record.id) if record is not None else []
    store.close()
    if record is None:
        raise UsageError(f"no record {record_id!r} in the trace store")
    if format == "html":
        notes = [note.feedback for note in feedback if note.feedback]
        flags: dict[int, list[dict[str, object]]] = {}
        for note in notes:
            if "step" in note:
                flags.setdefault(int(note["step"]), []).append(note)
        sys.stdout.write(trace_page(record, flags, [n for n in notes if "step" not in n]))
        return
    console = Console(soft_wrap=True)
    decision = record.decision
    console.print(shown(f"record {record.id} · {_when(record)} UTC · {record.engine}:"
                        f"{record.model} · caller {record.caller or '-'}", style="bold"))
    console.print(shown(f"decision: {decision.get('requested')} → {decision.get('mode')} "
                        f"(budget {decision.get('budget')}, policy {decision.get('policy')}, "
                        f"score {decision.get('score')})\nreason: {decision.get('reason')}"))
    for message in record.messages:
        console.print(Panel(shown(_render(message.get("content"))),
                            title=shown(str(message.get("role")))))
    console.print(Panel(shown(_render(record.thinking), style="dim"), title="thinking"))
    if record.steps and isinstance(record.thinking, str):
        console.print(steps_table(record, feedback))
    for answer_note in (f for f in feedback if f.feedback and "step" not in f.feedback):
        note = answer_note.feedback or {}
        console.print(shown(f"answer rated {note.get('verdict')}"
                            + (f": {_render(note.get('comment'))}" if note.get("comment") else "")
                            + (f" (correction: {_render(note.get('correction'))})"
                               if note.get("correction") else "")))
    console.print(Panel(shown(_render(record.answer) if not record.error else record.error),
                        title="answer" if not record.error else "error"))
    console.print(shown(f"usage {record.usage} · timings {record.timings} · cost "
                        f"${record.cost.total:.6f} · finish {record.finish_reason}"))
    console.print(shown(f"hash {record.hash} (after {record.prev_hash[:16]}…)"
                        + (" · redacted" if record.redacted else "")))


def steps_table(record: TraceRecord, feedback: list[TraceRecord]) -> Table:
    """The thinking's numbered steps, each with the flags people put on it."""
    thinking = record.thinking if isinstance(record.thinking, str) else ""
    flags: dict[int, list[str]] = {}
    for note in feedback:
        body = note.feedback or {}
        if "step" in body:
            comment = body.get("comment")
            flags.setdefault(int(body["step"]), []).append(
                str(body.get("verdict")) + (f": {_render(comment)}" if comment else ""))
    table = Table(title="steps")
    for column in ("#", "kind", "text", "flags"):
        table.add_column(column)
    for step in record.steps or []:
        table.add_row(str(step["index"]), shown(str(step["kind"])),
                      shown(_short(thinking[step["start"]:step["end"]], 80)),
                      shown("; ".join(flags.get(int(step["index"]), []))))
    return table


def _render(value: object) -> str:
    if isinstance(value, dict):
        return f"[redacted: sha256 {value.get('sha256', '')[:16]}…, {value.get('length')} chars]"
    return str(value or "")


@logs_app.command()
def export(
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    proof: Annotated[bool, typer.Option(
        "--proof", help="with the chain's start and signed checkpoints, for `logs verify "
        "--file` (jsonl only)")] = False,
    db: Db = None,
) -> None:
    """Every record, oldest first, to stdout."""
    if format not in ("jsonl", "csv"):
        raise UsageError(f"unknown export format {format!r}; valid: csv, jsonl")
    if proof and format != "jsonl":
        raise UsageError("--proof needs --format jsonl")
    store = _store(db)
    if proof:
        try:
            for line in proof_lines(store):
                sys.stdout.write(line + "\n")
        finally:
            store.close()
        return
    if format == "jsonl":
        for _, record in store.chain():
            sys.stdout.write(json.dumps(record.model_dump(), ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(sys.stdout)
        writer.writerow(["id", "created_at", "kind", "requested", "mode", "budget", "policy",
                         "score", "reason", "prompt_tokens", "thinking_tokens", "answer_tokens",
                         "total_s", "engine", "model", "finish_reason", "cost", "error",
                         "question", "answer", "hash"])
        for _, r in store.chain():
            d, u = r.decision, r.usage
            writer.writerow([spreadsheet_cell(cell) for cell in (
                r.id, r.created_at, r.kind, d.get("requested"), d.get("mode"), d.get("budget"),
                d.get("policy"), d.get("score"), d.get("reason"), u.get("prompt_tokens"),
                u.get("thinking_tokens"), u.get("answer_tokens"), r.timings.get("total_s"),
                r.engine, r.model, r.finish_reason, r.cost.total, r.error,
                _render(r.messages[-1]["content"]) if r.messages else "", _render(r.answer),
                r.hash,
            )])
    store.close()


@logs_app.command("stats")
def stats_cmd(db: Db = None) -> None:
    """Requests, think-rate, tokens, cost and latency per mode and per policy."""
    store = _store(db)
    records = [record for _, record in store.chain()]
    store.close()
    console = Console(soft_wrap=True)
    for group, rows in stats(records).items():
        table = Table(title=f"by {group}" if group != "all" else "all requests")
        for column in ("", "requests", "errors", "think-rate", "thinking tok", "answer tok",
                       "cost $", "p50 s", "p95 s", "p99 s"):
            table.add_column(column)
        for row in rows:
            table.add_row(shown(row.key), str(row.requests), str(row.errors),
                          f"{row.think_rate:.1%}", str(row.thinking_tokens),
                          str(row.answer_tokens), f"{row.cost:.4f}",
                          *(f"{v:.2f}" if v is not None else "-" for v in
                            (row.latency_p50_s, row.latency_p95_s, row.latency_p99_s)))
        console.print(table)
    for group, counts in verdicts(records).items():
        if not counts:
            continue
        labels = sorted({label for bucket in counts.values() for label in bucket})
        table = Table(title=f"feedback by {group}")
        for column in ("", *labels):
            table.add_column(shown(column))
        for key, bucket in sorted(counts.items()):
            table.add_row(shown(key), *(str(bucket.get(label, 0)) for label in labels))
        console.print(table)
    count, used, always = auto_savings(records)
    if count:
        saved = always - used
        console.print(f"auto: {count} requests used {used} thinking tokens; thinking on every "
                      f"one at the same budgets would have used about {always} "
                      f"(saved {saved}, {saved / always:.0%})" if always else
                      f"auto: {count} requests, no thinking")

