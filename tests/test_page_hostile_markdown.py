"""The chat page renders model output as Markdown at every repaint of a stream and whenever
the history opens a trace, so its patterns meet whatever a model (or a prompt injection)
writes. Each shape below took seconds to minutes on a single line before the patterns were
made linear (a heading with 4 KB of blanks: ~10 s, cubic; fences and list items with 128 KB
of blanks: ~12 s; unclosed `**` over 128 KB: ~2 s), freezing the tab. Run in Debian's
Chromium on the page as served by a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.browser import chromium_browser
from support.live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

pytestmark = [pytest.mark.browser]

#: Render `source` with the page's own module; the time taken and what it shows.
RENDER = """async (source) => {
  const markdown = await import("/static/markdown.js");
  const box = document.createElement("div");
  const started = performance.now();
  markdown.renderInto(box, source);
  return {ms: performance.now() - started, text: box.textContent,
          tags: Array.from(box.children, (child) => child.tagName)};
}"""
DEADLINE_MS = 1500  # after: a few ms to ~150 ms on a shared 2-core machine

BLANKS = " " * (128 * 1024)


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    with live_server(create_app(switch)) as url, chromium_browser() as browser:
        tab = browser.new_page()
        tab.goto(url + "/")
        yield tab
        tab.close()


@pytest.mark.parametrize("source, tag", [
    ("# a" + " " * 4096 + "x", "H3"),
    ("```" + BLANKS + "!", "P"),
    ("-" + BLANKS + "a\u2028", "UL"),
    ("1." + BLANKS + "a\u2028", "OL"),
    ("**a " * 32768, "P"),
    ("_a " * 32768, "P"),
], ids=["heading", "fence", "bullet", "numbered", "unclosed-bold", "unclosed-underscore"])
def test_hostile_markdown_renders_in_linear_time(page: Any, source: str, tag: str) -> None:
    shown = page.evaluate(RENDER, source)
    assert shown["ms"] < DEADLINE_MS, f"{shown['ms']:.0f} ms"
    assert shown["tags"] == [tag]
    assert shown["text"].split() == source.replace("\u2028", " ").split()[
        1 if tag in ("H3", "UL", "OL") else 0:]


@pytest.mark.parametrize("source, tag, text", [
    ("## Title ##", "H4", "Title"),
    ("```python \nx = 1\n```", "PRE", "x = 1"),
    ("- **bold** and `code`", "UL", "bold and code"),
    ("3) third", "OL", "third"),
])
def test_markdown_still_renders_as_before(page: Any, source: str, tag: str, text: str) -> None:
    shown = page.evaluate(RENDER, source)
    assert shown["tags"] == [tag] and shown["text"] == text
