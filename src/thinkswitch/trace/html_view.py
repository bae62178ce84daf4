"""`logs show ID --format html`: one trace as one self-contained page a reviewer can archive.

No external asset, no script: the styles are inline and a Content-Security-Policy forbids
everything else, so the page looks the same offline in ten years. Every text from the record
is escaped (autoescape): model output and user input are data, never markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

from jinja2 import Environment, select_autoescape

from thinkswitch.trace.record import TraceRecord

TEMPLATE = "trace.html.j2"


def _text(value: object) -> str:
    if isinstance(value, dict):
        if set(value) == {"sha256", "length"}:
            return f"[redacted: sha256 {value['sha256']}, {value['length']} chars]"
        content = value.get("content")
        return str(content or "") + "".join(f"\n[tool call] {call}" for call in
                                            value.get("tool_calls") or [])
    if isinstance(value, list):  # content parts
        return "\n".join(str(part.get("text", part)) if isinstance(part, dict) else str(part)
                         for part in value)
    return str(value or "")


Flags = Mapping[int, Sequence[Mapping[str, Any]]]


def steps_of(record: TraceRecord, flags: Flags | None = None) -> list[dict[str, Any]]:
    """The numbered steps of the thinking (index, start and end offsets into it, kind), each
    with its `flags` (from the feedback records that reference this trace, by step index)."""
    raw = record.steps or []
    thinking = _text(record.thinking)
    steps = []
    for number, step in enumerate(raw, 1):
        if not isinstance(step, dict):
            continue
        start, end = step.get("start"), step.get("end")
        text = thinking[start:end] if isinstance(start, int) and isinstance(end, int) else ""
        index = step.get("index", number)
        steps.append({"index": index, "text": text, "kind": step.get("kind", ""),
                      "flags": list((flags or {}).get(index, []))})
    return steps


def trace_page(record: TraceRecord, flags: Flags | None = None,
               ratings: Sequence[Mapping[str, Any]] = ()) -> str:
    """The page; `flags` (by step index) and `ratings` of the answer come from the feedback
    records that reference this one."""
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                              keep_trailing_newline=True)
    template = environment.from_string(
        files("thinkswitch.trace").joinpath("templates", TEMPLATE).read_text(encoding="utf-8"))
    when = dt.datetime.fromtimestamp(record.created_at, dt.UTC)
    return template.render(
        record=record, when=when.strftime("%Y-%m-%d %H:%M:%S UTC"),
        messages=[(str(m.get("role", "")), _text(m.get("content"))) for m in record.messages],
        thinking=_text(record.thinking), answer=_text(record.answer), steps=steps_of(record, flags),
        decision=record.decision, cost=record.cost, ratings=list(ratings),
    )
