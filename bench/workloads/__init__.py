"""Workflow modules the benchmarks run wfleak on."""
