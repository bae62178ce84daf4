"""Render a GGUF's own chat template (Jinja) into a prompt, with an assistant prefill.

The embedded engine renders the template itself so that a dialect can pass template
arguments (`enable_thinking`, `thinking`) and prefill the assistant turn (`<think>\\n`).

`render_parts` also says which spans of the prompt are the template's own text (its turn
markers: tokenized with special tokens) and which are message text (tokenized as plain text),
so `<|im_end|><|im_start|>system` typed by a user stays text and cannot open a system turn.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise TemplateError(message)


@dataclass(frozen=True, slots=True)
class PromptPart:
    """A span of a rendered prompt: the template's own text, or a message's text."""

    text: str
    from_template: bool


def _with_prefill(prompt: str, prefill: str) -> str:
    # Templates that open the think block themselves (DeepSeek-R1 distills) already end
    # with part of the prefill: append only what is not there yet.
    for overlap in range(len(prefill), 0, -1):
        if prompt.endswith(prefill[:overlap]):
            return prompt + prefill[overlap:]
    return prompt + prefill


class ChatTemplate:
    """A compiled chat template plus the special-token texts it may refer to."""

    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = "") -> None:
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        environment.globals["raise_exception"] = _raise
        self._template = environment.from_string(source or CHATML_TEMPLATE)
        self._bos = bos_token
        self._eos = eos_token

    def render(
        self,
        messages: tuple[ChatMessage, ...],
        prefill: str = "",
        template_kwargs: Mapping[str, object] | None = None,
    ) -> str:
        contents = [m.content for m in messages]
        return _with_prefill(self._render(messages, contents, template_kwargs), prefill)

    def render_parts(
        self,
        messages: tuple[ChatMessage, ...],
        prefill: str = "",
        template_kwargs: Mapping[str, object] | None = None,
    ) -> list[PromptPart] | None:
        """The prompt as template spans and message spans, or None when this template
        rewrites message text (trims it, splits it...) so the spans cannot be told apart.

        Each message's content is rendered as a random placeholder first; where every
        placeholder appears once and putting the contents back gives the very prompt
        `render` makes, the placeholders mark exactly where message text sits."""
        nonce = secrets.token_hex(8)
        marks = [f"\ue000{nonce}:{index}\ue001" for index in range(len(messages))]
        marked = _with_prefill(self._render(messages, marks, template_kwargs), prefill)
        if marked.count(f"\ue000{nonce}:") != len(marks):  # once for all: not per message,
            return None                                   # quadratic in a body of many turns
        parts: list[PromptPart] = []
        position = 0
        for mark, message in zip(marks, messages, strict=True):
            at = marked.find(mark, position)
            if at < 0:
                return None
            parts += [PromptPart(marked[position:at], True), PromptPart(message.content, False)]
            position = at + len(mark)
        parts.append(PromptPart(marked[position:], True))
        whole = "".join(part.text for part in parts)
        return parts if whole == self.render(messages, prefill, template_kwargs) else None

    def _render(self, messages: tuple[ChatMessage, ...], contents: list[str],
                template_kwargs: Mapping[str, object] | None) -> str:
        try:
            return self._template.render(
                messages=[{"role": m.role, "content": content}
                          for m, content in zip(messages, contents, strict=True)],
                add_generation_prompt=True,
                bos_token=self._bos,
                eos_token=self._eos,
                **(template_kwargs or {}),
            )
        except TemplateError as error:
            raise UsageError(f"the model's chat template rejected the messages: {error}") from None
