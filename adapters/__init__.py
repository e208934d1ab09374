"""Adapters: translate platform events to the core's `Incoming` and render its `Reply` values."""
