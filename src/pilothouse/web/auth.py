"""The optional bearer token (`serve.token`, $PILOTHOUSE_SERVE_TOKEN): when set, every
route but /static needs `Authorization: Bearer <token>`, compared in constant time."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIX = "/static/"
CHALLENGE = b'Bearer realm="pilothouse"'


def authorized(header: bytes | None, token: str) -> bool:
    """Whether an Authorization header carries *token*.

    >>> authorized(b"Bearer s3cret", "s3cret"), authorized(b"Bearer nope", "s3cret")
    (True, False)
    """
    scheme, _, given = (header or b"").partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.strip(), token.encode())


class TokenAuth:
    """ASGI middleware: 401 with `WWW-Authenticate: Bearer` unless authorized."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        if authorized(header, self.token):
            await self.app(scope, receive, send)
            return
        await _unauthorized(send)


async def _unauthorized(send: Send) -> None:
    body = b'{"detail":"a bearer token is required: Authorization: Bearer <serve.token>"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", CHALLENGE),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
