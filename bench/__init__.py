"""Benchmarks of the service, each runnable as `python -m bench.<name>` or a script."""
