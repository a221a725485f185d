"""Renderers: each takes the Report model and a stream or Console."""
