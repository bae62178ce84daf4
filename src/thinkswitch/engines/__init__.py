"""Engines: model backends behind one small streaming interface."""
