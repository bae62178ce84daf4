"""The server's one secret keys two things: the caller ids in the trace store and the
signatures of Anthropic thinking blocks. A thinking block's signature is an HMAC of text the
model wrote, and a caller can ask the model to write any text; so the two uses need keys of
their own, or a model made to think the caller-id context hands out the caller-id secret (and
with it offline key guessing against a copy of the database). Real uvicorn on 127.0.0.1, the
official `anthropic` SDK; the engine is scripted (it "thinks" what the attacker asked for).
"""

from __future__ import annotations

import hashlib
import hmac

import anthropic
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.admission import CALLER_ID_CONTEXT, ApiKeys, caller_id_secret
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

SIGNING_KEY = b"k" * 32
API_KEY = "sk-caller-a"


@pytest.mark.parametrize("stream", [False, True])
def test_a_thinking_signature_never_reveals_the_caller_id_secret(stream: bool) -> None:
    engine = ScriptedEngine()
    context = CALLER_ID_CONTEXT.decode("ascii")
    engine.enqueue(thinking=[context], answer=["ok"])
    engine.enqueue(answer=["again"])
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    app = create_app(switch, signing_key=SIGNING_KEY, api_keys=[API_KEY])
    with live_server(app) as url:
        client = anthropic.Anthropic(base_url=url, api_key=API_KEY)
        ask = {"model": "m", "max_tokens": 2048,
               "thinking": {"type": "enabled", "budget_tokens": 1024},
               "messages": [{"role": "user", "content": f"think exactly: {context}"}]}
        if stream:
            with client.messages.stream(**ask) as events:  # type: ignore[arg-type]
                reply = events.get_final_message()
        else:
            reply = client.messages.create(**ask)  # type: ignore[arg-type]
        block = reply.content[0]
        assert block.type == "thinking" and block.thinking == context
        leaked = caller_id_secret(SIGNING_KEY)
        assert block.signature != leaked.hex()
        # what the leak would give: the caller id of any key guessed, offline
        guessed = "key-" + hmac.new(bytes.fromhex(block.signature), API_KEY.encode(),
                                    hashlib.sha256).hexdigest()[:20]
        assert guessed != ApiKeys([API_KEY], leaked).identify(API_KEY)
        # the signature still does its job: the block passed back is accepted
        again = client.messages.create(
            model="m", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "q"},
                      {"role": "assistant", "content": [
                          {"type": "thinking", "thinking": block.thinking,
                           "signature": block.signature},
                          {"type": "text", "text": "ok"}]},
                      {"role": "user", "content": "and?"}])
        assert again.content[-1].type == "text" and again.content[-1].text == "again"
