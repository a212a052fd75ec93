"""The repository's maintenance scripts, each runnable as a file (``venv/bin/python scripts/<name>.py``).

A package so that the tests import them by one name (``from scripts import deployer_policy``).
"""
