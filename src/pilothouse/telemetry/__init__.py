"""Stored CI runs as OpenTelemetry traces (`pilothouse export otel`): pure span building
in spans.py, the one OTLP/HTTP seam in otlp.py."""
