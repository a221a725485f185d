"""Probes: what is measured after each run, without keeping any of the target's objects alive."""
