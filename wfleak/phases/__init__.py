"""The analysis in phases: warm-up, measure, settle, trace, explain.

Each phase is one module with one entry point that returns a frozen result (plain numbers and
strings, never a live object of the target). :mod:`wfleak.phases.report` turns those results
into the :class:`~wfleak.model.Report`, as a pure function; :mod:`wfleak.pipeline` runs the
phases in order on one event loop.
"""
