"""`logs keygen`, `logs checkpoint` and `logs verify`: the trace log's signatures.

`verify` reads a store or an export (`--file`) and checks it with the public keys given
(`--key`, or the configured signing key's public half). Its verdict names the guarantee it
checked: signed up to a record, chained but unsigned after it, or unkeyed (and what that does
not protect). Tampering exits 1 with one line naming the record; so does a store it cannot read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from thinkswitch.cli.terminal_text import printable
from thinkswitch.factory import load_settings, trace_location, trace_signing_key
from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.trace.backends import is_postgres, open_store
from thinkswitch.trace.checkpoint import Checkpoint
from thinkswitch.trace.proof import read_proof
from thinkswitch.trace.signing import PublicKey, generate_keypair, load_public_key
from thinkswitch.trace.verify import Verification, verify, verify_source

Db = Annotated[str | None, typer.Option(help="trace store: SQLite path or postgresql:// URL")]


def existing_location(db: str | None) -> str:
    """The configured store's location; a SQLite file that does not exist is an error here
    (reading or verifying must never create an empty store and call it intact)."""
    location = trace_location(load_settings(trace_db=db))
    if not is_postgres(location) and not Path(location).expanduser().is_file():
        raise DataError(f"no trace store at {location}")
    return location


def keygen(out: Annotated[Path, typer.Option(help="folder for the key pair")]) -> None:
    """Make an Ed25519 key pair for signed checkpoints (private key file mode 0600)."""
    private, public, key_id = generate_keypair(out.absolute())
    typer.echo(f"key {key_id}\nprivate (keep it with the store's writer, 0600): {private}\n"
               f"public (give it to auditors; it alone verifies): {public}\n"
               f"sign with: THINKSWITCH_TRACE_SIGNING_KEY_FILE={private}")


def checkpoint_cmd(
    new: Annotated[bool, typer.Option(
        "--new", help="sign the current head now with the configured key first")] = False,
    db: Db = None,
) -> None:
    """Print the newest signed checkpoint as one JSON line, to keep somewhere else."""
    location = existing_location(db)
    settings = load_settings(trace_db=db)
    store = open_store(location)
    try:
        if new:
            key = trace_signing_key(settings)
            if key is None:
                raise UsageError("--new needs a signing key (THINKSWITCH_TRACE_SIGNING_KEY_FILE)")
            store.sign_checkpoint(key)
        lines = store.checkpoint_lines()
    finally:
        store.close()
    if not lines:
        raise DataError(f"no signed checkpoint in {location} (configure a signing key; the "
                        "store signs on a schedule and when it closes, or use --new)")
    newest = max(lines, key=_count)
    typer.echo(newest)


def _count(line: str) -> tuple[int, float]:
    try:
        checkpoint = Checkpoint.parse(line)
    except ValueError:
        return (-1, 0.0)
    return (checkpoint.count, checkpoint.at)


def verify_cmd(
    key: Annotated[list[Path] | None, typer.Option(
        help="public key (PEM) to check signed checkpoints with; repeatable")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        help="checkpoint lines kept elsewhere (`logs checkpoint`), trusted when signed")] = None,
    file: Annotated[Path | None, typer.Option(
        help="check an export (`logs export --format jsonl --proof`) instead of a store")
    ] = None,
    all_signed: Annotated[bool, typer.Option(
        help="fail when records after the newest checkpoint are unsigned")] = False,
    db: Db = None,
) -> None:
    """Walk the hash chain and check it against signed checkpoints; say what was verified."""
    if file is not None and db is not None:
        raise UsageError("give --file or --db, not both")
    keys = _keys(key or [], db)
    trusted = _trusted(checkpoint) if checkpoint is not None else []
    if file is not None:
        result = verify_source(read_proof(file, trusted), keys, all_signed)
    else:
        store = open_store(existing_location(db))
        try:
            result = verify(store, keys, trusted, all_signed)
        finally:
            store.close()
    _report(result)


def _keys(paths: list[Path], db: str | None) -> list[PublicKey]:
    if paths:
        return [load_public_key(path) for path in paths]
    configured = trace_signing_key(load_settings(trace_db=db))
    return [configured.public] if configured is not None else []


def _trusted(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeError:
        raise DataError(f"{path} is not UTF-8 text: not a checkpoint file") from None
    lines = [(f"{path.name}:{n}", line.strip()) for n, line in enumerate(text.splitlines(), 1)
             if line.strip()]
    if not lines:
        raise DataError(f"{path} holds no checkpoint")
    return lines


def _report(result: Verification) -> None:
    """What verify found; text from the store (a record id) with its control characters
    spelled out, so a tampered record cannot print over the verdict."""
    if not result.ok:
        print(f"thinkswitch: tampering detected: {printable(result.message)}", file=sys.stderr)
        raise typer.Exit(1)
    typer.echo(printable(result.message))
    for note in result.notes:
        typer.echo(printable(note))
