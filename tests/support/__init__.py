"""Shared test helpers: fakes and servers at the engine or upstream boundary, and helpers
that several test files use. Test files import from here, never from each other."""
