"""Model output and request text are hostile: scanning them must take linear time.

Each shape here once took quadratic time or worse (measured at 16 KB, extrapolated to the 1 MiB
a request body may be, or to a long stream):

- `^\\s*` line patterns under MULTILINE (option lines, letter answers, `####` answers, the
  triage's multiple-choice lines): a `\\s*` crossing line ends rescans every later blank line
  from each line start;
- `answer\\s*(?:is|:)?\\s*`: two adjacent `\\s*` split a long blank run every possible way;
- `\\boxed{` never closed, each one rescanned to the end of the text;
- a reasoning parser that re-stripped its whole pending buffer at every blank delta, and an SSE
  reader that re-joined and re-split one long line at every network read;
- the chat template's spans counting each message's placeholder in the whole prompt (a 1 MiB
  body of 32,000 empty turns took 54 s).

The scans run in a child process with a deadline; with the old code they run for minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys

from thinkswitch.server.text_check import first_invalid_text

SIZE = 256_000
DELTAS = 500_000
DEADLINE_S = 60.0

SCAN_OUTPUT = """
import sys
from thinkswitch.bench.extract import extract_answer, hash_answer, last_boxed
from thinkswitch.engines.sse import ChunkReader
from thinkswitch.shadow.agreement import judge, option_letter
from thinkswitch.thinking.parsers import ThinkTagParser
size, deltas = int(sys.argv[1]), int(sys.argv[2])
def run(shape):
    return (shape * (size // len(shape) + 1))[:size]
texts = [run("\\n"), run("\\n\\t"), run(" \\n"), "answer" + run(" ") + "x", "(" + run(" ") + "x",
         run("\\\\boxed{"), run("\\\\boxed"), run("\\\\boxed 1"), "#### a" + run(" ") + "b",
         run("A.\\n\\n")]
for text in texts:
    option_letter(text)
    extract_answer(text)
    hash_answer(text)
    last_boxed(text)
    judge(text, text, text)
parser = ThinkTagParser("optional")
for _ in range(deltas):
    assert parser.feed(" ") == []
assert [segment.kind for segment in parser.flush()] == ["answer"]
reader = ChunkReader("hostile")
assert reader.feed(b'data: {"choices": [{"delta": {"content": "') == []
for _ in range(deltas):
    assert reader.feed(b"a") == []
(chunk,) = reader.feed(b'"}}]}\\n')
assert chunk.content == "a" * deltas, chunk
print("scanned", len(texts))
"""


SPLIT_PROMPT = """
import sys
from thinkswitch.engines.chat_template import ChatTemplate
from thinkswitch.kernel.messages import ChatMessage
turns = int(sys.argv[1])
template = ChatTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}"
                        "<|im_end|>\\n{% endfor %}<|im_start|>assistant\\n")
parts = template.render_parts(tuple(ChatMessage(role="user", content="") for _ in range(turns)))
assert parts is not None and sum(not part.from_template for part in parts) == turns
print("split", turns)
"""


def _within_deadline(script: str, *args: object) -> str:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          capture_output=True, text=True, timeout=DEADLINE_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_output_scanners_take_linear_time_on_hostile_shapes() -> None:
    assert _within_deadline(SCAN_OUTPUT, SIZE, DELTAS) == "scanned 10"


def test_a_prompt_of_many_turns_is_split_in_linear_time() -> None:
    assert _within_deadline(SPLIT_PROMPT, 64_000) == "split 64000"


def test_a_bad_string_deep_in_a_body_is_still_named() -> None:
    document = json.loads('{"messages": [{"content": ["ok", "\\ud800"]}]}')
    assert first_invalid_text(document) == "messages.0.content.1"
