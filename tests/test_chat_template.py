"""Rendering chat templates with a prefill, as the embedded engine does."""

from __future__ import annotations

import pytest

from thinkswitch.engines.chat_template import ChatTemplate
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage

R1_LIKE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
           "{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}")
MESSAGES = (ChatMessage(role="user", content="hi"),)


def test_default_chatml_with_prefill() -> None:
    prompt = ChatTemplate(None).render(MESSAGES, prefill="<think>\n")
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n"


@pytest.mark.parametrize(
    ("prefill", "ending"),
    [("<think>\n", "<|assistant|><think>\n"),
     ("<think>\n\n</think>\n\n", "<|assistant|><think>\n\n</think>\n\n")],
)
def test_a_template_that_opens_thinking_is_not_given_a_second_think(
    prefill: str, ending: str
) -> None:
    prompt = ChatTemplate(R1_LIKE).render(MESSAGES, prefill=prefill)
    assert prompt.endswith(ending)
    assert prompt.count("<think>") == 1


def test_template_kwargs_reach_the_template() -> None:
    template = ChatTemplate("{% if enable_thinking %}T{% else %}F{% endif %}")
    assert template.render(MESSAGES, template_kwargs={"enable_thinking": False}) == "F"
    assert template.render(MESSAGES, template_kwargs={"enable_thinking": True}) == "T"


def test_a_template_that_raises_is_a_usage_error() -> None:
    template = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(UsageError, match="roles must alternate"):
        template.render(MESSAGES)
