"""The HTTP face: OpenAI-compatible API in front of the switch."""
