"""Triage: policies that decide, per request, whether to think and how much."""
