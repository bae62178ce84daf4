"""Render a GGUF's own chat template (Jinja) into a prompt, with an assistant prefill.

The embedded engine renders the template itself so that a dialect can pass template
arguments (`enable_thinking`, `thinking`) and prefill the assistant turn (`<think>\\n`).
"""

from __future__ import annotations

from collections.abc import Mapping

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
        try:
            prompt = self._template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                bos_token=self._bos,
                eos_token=self._eos,
                **(template_kwargs or {}),
            )
        except TemplateError as error:
            raise UsageError(f"the model's chat template rejected the messages: {error}") from None
        # Templates that open the think block themselves (DeepSeek-R1 distills) already end
        # with part of the prefill: append only what is not there yet.
        for overlap in range(len(prefill), 0, -1):
            if prompt.endswith(prefill[:overlap]):
                return prompt + prefill[overlap:]
        return prompt + prefill
