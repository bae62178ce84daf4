"""A child process for the durability tests:
`trace_writer.py URL COUNT TAG [--wait] [--pause S] [--sign KEYFILE EVERY]`.

Opens the store, prints `ready`, (with --wait, waits for a line on stdin), then appends COUNT
records (0: until killed), printing each record's id and flushing only after `append` returned:
a printed id is an answer that was already returned to its caller. `--pause` sleeps between
appends, as a server does between requests, so that concurrent writers interleave. `--sign`
signs checkpoints with the key every EVERY records and on close, as a replica does.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

from trace_helpers import sample_record

from thinkswitch.trace.backends import open_store
from thinkswitch.trace.checkpoint import CheckpointSchedule
from thinkswitch.trace.signing import load_signing_key


def main() -> None:
    url, count, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = open_store(url)
    options = sys.argv[4:]
    if "--sign" in options:
        at = options.index("--sign")
        store.sign_with(load_signing_key(Path(options[at + 1])),
                        CheckpointSchedule(every_records=int(options[at + 2]), every_s=3600))
    print("ready", flush=True)
    pause = float(options[options.index("--pause") + 1]) if "--pause" in options else 0.0
    if "--wait" in options:
        sys.stdin.readline()
    indices = range(count) if count else itertools.count()
    for index in indices:
        record = store.append(sample_record(index, tag))
        sys.stdout.write(record.id + "\n")
        sys.stdout.flush()
        if pause:
            time.sleep(pause)
    store.close()


if __name__ == "__main__":
    main()
