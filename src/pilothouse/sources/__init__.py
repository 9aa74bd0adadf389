"""Readers that turn foreign formats into model records; they know formats, not databases."""
