"""Deliver alerts to Slack-compatible webhooks, retrying, never leaking the URL's secret."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from pilothouse.config import mask_url

# A webhook URL is a secret: shown by its host only.
redact = mask_url


def post_webhook(
    client: httpx.Client,
    url: str,
    text: str,
    *,
    retries: int = 3,
    backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST ``{"text": ...}``; None when delivered, else why not (one line)."""
    problem = "not tried"
    for attempt in range(1, retries + 1):
        try:
            response = client.post(url, json={"text": text}, timeout=10.0)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}"
        else:
            if response.status_code < 300:
                return None
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # a client error will not heal by retrying
        if attempt < retries:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    return f"{redact(url)}: {problem} after {attempt} tries"
