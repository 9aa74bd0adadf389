"""The `pilothouse` command line: parse, call, render. Nothing else."""

from pilothouse.cli.main import app, main, run

__all__ = ["app", "main", "run"]
