"""A child process for the durability tests: `trace_writer.py URL COUNT TAG [--wait] [--pause S]`.

Opens the store, prints `ready`, (with --wait, waits for a line on stdin), then appends COUNT
records (0: until killed), printing each record's id and flushing only after `append` returned:
a printed id is an answer that was already returned to its caller. `--pause` sleeps between
appends, as a server does between requests, so that concurrent writers interleave.
"""

from __future__ import annotations

import itertools
import sys
import time

from trace_helpers import sample_record

from thinkswitch.trace.backends import open_store


def main() -> None:
    url, count, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = open_store(url)
    print("ready", flush=True)
    options = sys.argv[4:]
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
