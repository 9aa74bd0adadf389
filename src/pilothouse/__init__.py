"""pilothouse: the control room for a software delivery pipeline."""

__version__ = "0.1.0"
