"""pilothouse's web surface: the dashboard server, /metrics and the one-file HTML report."""
