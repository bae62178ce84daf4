"""Thinking control: reasoning parsers, model dialects and budget forcing."""
