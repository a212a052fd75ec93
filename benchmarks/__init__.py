"""The benchmarks: each prints its figures against a baseline measured in the same run (README.md beside them).

Runnable as files (``venv/bin/python benchmarks/<name>.py``); a package so that the tests import them by one name.
"""
