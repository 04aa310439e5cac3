"""Engines other than the built-in DuckDB one, each in its own package.

A backend turns ``--events`` into the same three answers the DuckDB engine
gives (:class:`~activity_report.sources.Diagnostics`, the data span and the
:class:`~activity_report.engine.Cell` list), so the same model and renderers
make the output. A backend's own dependencies are imported only when it runs.
"""
