"""Benchmarks for the stack: ``python -m benchmarks <name|all> [--quick]`` (see docs/benchmarks.md).

Not collected by pytest: no file here is named ``test_*.py``.
"""
