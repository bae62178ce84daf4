"""`thinkswitch` commands. Errors print one line and exit 2 (usage) or 1 (runtime)."""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import Abort, TyperException

from thinkswitch.cli.bench_cmd import bench
from thinkswitch.cli.config_cmd import config_app
from thinkswitch.cli.logs_cmd import logs_app
from thinkswitch.cli.options import (
    BaseUrlOption,
    DataDirOption,
    DialectOption,
    EngineOption,
    ModelOption,
    TraceDbOption,
)
from thinkswitch.cli.render import StreamPrinter
from thinkswitch.cli.serve_cmd import serve
from thinkswitch.cli.triage_cmd import triage_app
from thinkswitch.cli.triage_learn_cmd import promote
from thinkswitch.cli.triage_report_cmd import report
from thinkswitch.engines.registry import engine_factories
from thinkswitch.factory import build_switch, load_settings
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import MAX_TOKENS
from thinkswitch.thinking.dialects import DIALECTS

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="A light switch for LLM reasoning: off, on under a budget, or auto.",
)

app.command()(bench)
app.command()(serve)
triage_app.command("report")(report)
triage_app.command("promote")(promote)
app.add_typer(triage_app, name="triage")
app.add_typer(logs_app, name="logs")
app.add_typer(config_app, name="config")


class Think(StrEnum):
    off = "off"
    on = "on"
    auto = "auto"


@app.command()
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
        engine=engine, model=model, dialect=dialect, base_url=base_url, data_dir=data_dir,
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


@app.command()
def engines() -> None:
    """List the engines and the dialects (how each model family is told to think)."""
    console = Console()
    table = Table(title="engines")
    table.add_column("name")
    table.add_column("what it runs")
    for name, (_, description) in sorted(engine_factories().items()):
        table.add_row(name, description)
    console.print(table)
    dialects = Table(title="dialects")
    dialects.add_column("name")
    dialects.add_column("markers")
    dialects.add_column("embedded engine")
    for name, dialect in sorted(DIALECTS.items()):
        markers = f"{dialect.parser.start} … {dialect.parser.end}"
        dialects.add_row(name, markers, "yes" if dialect.local else "no (server-side)")
    console.print(dialects)


def _fail(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width."""
    print(f"thinkswitch: {' '.join(message.split())}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every expected failure into one line and an exit code."""
    # math-verify warns on every first use that its signal-based timeout is off (on purpose).
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    try:
        code = app(args=argv, standalone_mode=False, prog_name="thinkswitch")
    except Abort:
        _fail("aborted")
        sys.exit(130)
    except TyperException as error:  # argument parsing: a bad option value, a missing argument
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help())  # a bare command group: show its help as it is
            sys.exit(2)
        format_message = getattr(error, "format_message", None)
        message = format_message() if callable(format_message) else str(error)
        _fail(f"usage error: {message}")
        sys.exit(int(getattr(error, "exit_code", 2)))
    except ThinkswitchError as error:
        kind = "usage error" if error.exit_code == 2 else "error"
        _fail(f"{kind}: {error}")
        sys.exit(error.exit_code)
    except OSError as error:  # a file or folder we were told to write or read
        _fail(f"error: {error}")
        sys.exit(1)
    except OverflowError as error:  # a number from the input too large for where it goes
        _fail(f"usage error: a number is out of range ({error})")
        sys.exit(2)
    except RecursionError:  # input nested deeper than a parser can follow
        _fail("usage error: the input is nested too deeply")
        sys.exit(2)
    except KeyboardInterrupt:
        _fail("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("THINKSWITCH_DEBUG"):
            raise
        _fail(f"internal error: {type(error).__name__}: {error} (a bug in thinkswitch; "
              "THINKSWITCH_DEBUG=1 shows the traceback)")
        sys.exit(70)
    # Typer turns Ctrl-C into an exit code that standalone_mode=False returns, not raises.
    if isinstance(code, int) and code != 0:
        if code == 130:
            _fail("interrupted")
        sys.exit(code)
