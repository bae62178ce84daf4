"""`thinkswitch ask`: one question through the switch, streamed to the terminal."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from thinkswitch.cli.options import (
    BaseUrlOption,
    DataDirOption,
    DialectOption,
    EngineOption,
    ModelOption,
    TraceDbOption,
    engine_overrides,
)
from thinkswitch.cli.render import StreamPrinter
from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import MAX_TOKENS


class Think(StrEnum):
    off = "off"
    on = "on"
    auto = "auto"


def ask(
    question: Annotated[str, typer.Argument(help="the question to answer")],
    think: Annotated[Think, typer.Option(help="off, on (under --budget) or auto")] = Think.auto,
    budget: Annotated[int | None, typer.Option(
        min=1, max=MAX_TOKENS, help="cap on thinking tokens")] = None,
    min_thinking: Annotated[int, typer.Option(
        min=0, max=MAX_TOKENS, help="replace an earlier end with 'Wait,'")] = 0,
    answer_max_tokens: Annotated[int | None, typer.Option(
        min=1, max=MAX_TOKENS, help="cap on answer tokens")] = None,
    engine: EngineOption = None,
    model: ModelOption = None,
    dialect: DialectOption = None,
    base_url: BaseUrlOption = None,
    data_dir: DataDirOption = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    seed: Annotated[int | None, typer.Option(help="sampling seed")] = None,
    hide_thinking: Annotated[bool, typer.Option(help="do not print the thinking")] = False,
    db: TraceDbOption = None,
    record: Annotated[bool, typer.Option(help="record the request in the trace store")] = True,
    redact: Annotated[bool, typer.Option(help="store inputs and traces as salted hashes")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print the Result as JSON")] = False,
) -> None:
    """Answer QUESTION, streaming the thinking (dimmed) and then the answer."""
    request = Request.build(
        question,
        think=think.value,
        budget=budget,
        min_thinking=min_thinking,
        answer_max_tokens=answer_max_tokens,
        temperature=temperature,
        seed=seed,
    )
    settings = load_settings(
        **engine_overrides(engine, model, dialect, base_url, data_dir),
        trace_db=db, record=None if record else False, redact=True if redact else None,
    )
    switch = build_switch(settings)
    try:
        if json_output:
            print(switch.run(request).model_dump_json())
            return
        printer = StreamPrinter(
            Console(soft_wrap=True, highlight=False),
            Console(stderr=True, soft_wrap=True, highlight=False),
            show_thinking=not hide_thinking,
        )
        for event in switch.stream(request):
            if isinstance(event, Decision):
                printer.decision(event)
            elif isinstance(event, ThinkingDelta | AnswerDelta):
                printer.delta(event)
            elif isinstance(event, Result):
                printer.result(event)
    finally:
        switch.close()
