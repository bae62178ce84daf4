"""`thinkswitch` commands. Errors print one line and exit 2 (usage) or 1 (runtime).

The top level is a dispatcher over `thinkswitch.cli.commands.COMMANDS`: it imports a command's
module (and typer, rich, pydantic, the engine, ...) only when that command runs, so
`thinkswitch --help` and `ask --think off` start at once.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING

from thinkswitch.cli.commands import COMMANDS, top_help
from thinkswitch.cli.terminal_text import printable
from thinkswitch.kernel.errors import ThinkswitchError

if TYPE_CHECKING:
    import typer

HELP_FLAGS = frozenset({"--help"})


def _fail(message: str) -> None:
    """One unwrapped line on stderr, whatever the terminal width; control characters (from an
    upstream's error text, say) spelled out."""
    print(f"thinkswitch: {printable(' '.join(message.split()))}", file=sys.stderr, flush=True)


def load_command(name: str) -> typer.Typer:
    """The Typer app of command `name`, importing its module now."""
    import typer

    entry = COMMANDS[name]
    target = getattr(import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        return target
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                         help=entry.help)
    single.command(name=name)(target)
    return single


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every expected failure into one line and an exit code."""
    # math-verify warns on every first use that its signal-based timeout is off (on purpose).
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in HELP_FLAGS:
        print(top_help())
        sys.exit(0 if args else 2)  # a bare `thinkswitch` is a usage error, as before
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        _fail(f"usage error: No such command {name!r} (commands: {', '.join(COMMANDS)}).")
        sys.exit(2)
    from typer.exceptions import Abort, TyperException

    try:
        command = load_command(name)
        code = command(args=rest, standalone_mode=False, prog_name=f"thinkswitch {name}")
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
