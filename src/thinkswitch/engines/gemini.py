"""`gemini`: Gemini through Google's OpenAI-compatible endpoint.

It is the `openai` engine with the `gemini` dialect: thinking on sends a budget in
`extra_body.google.thinking_config` (`thinking_budget`, `include_thoughts: true`, so the
thoughts come back in the content between `<thought>` tags, which the dialect's parser
splits); off sends `reasoning_effort: none` (the endpoint refuses both fields together).
The budget is held by the server; the default `cut` style also stops the stream at it, so a
server that overshoots is still cut. Without `--base-url` it calls Google's endpoint.
"""

from __future__ import annotations

from thinkswitch.engines.openai_compat import OpenAICompatEngine
from thinkswitch.settings import Settings

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai"


class GeminiEngine(OpenAICompatEngine):
    name = "gemini"
    default_dialect = "gemini"

    def suggested_dialect(self) -> str:
        return "gemini"


def gemini_settings(settings: Settings) -> Settings:
    """`settings` with Google's endpoint as the base URL unless one was given."""
    if "base_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"base_url": GEMINI_BASE_URL})
