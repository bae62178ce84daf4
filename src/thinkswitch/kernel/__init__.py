"""The words every layer shares: request, decision, events, result and usage, messages, plans,
errors.

The kernel imports nothing else of the project, so anything may import it; faces see the
switch's events from here and never an engine class. Import each name from its own module
(`thinkswitch.kernel.events`, ...): this package re-exports nothing.
"""
