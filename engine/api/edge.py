"""What every HTTP answer carries: security headers, and CORS only for the origins configured.

Browsers are the attacker's tool against an API on a trusted network: a page on any site can send a
form POST or open a WebSocket to 127.0.0.1. So the API answers JSON only to JSON (415 otherwise, which
forces a CORS preflight), allows no origin unless ``API_CORS_ORIGINS`` lists it, checks WebSocket
Origins against the same list, forbids framing and sniffing, and names no server software. The API's
own pages (the docs and the console) may load scripts and styles from this origin only, and the console
may call and open sockets to it; a socket from such a page is same-origin and needs no listing.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

# JSON answers load nothing; the docs and console pages load their own scripts, styles and images, from
# here only, and talk to this origin only ('self' covers its ws:// address too).
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_PREFIXES = ("/docs", "/static-docs/", "/console")
_COMMON: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
API_HEADERS: Headers = [*_COMMON, (b"content-security-policy", API_CSP)]
PAGE_HEADERS: Headers = [*_COMMON, (b"content-security-policy", PAGE_CSP)]


def security_headers(path: str) -> Headers:
    return PAGE_HEADERS if path.startswith(PAGE_PREFIXES) else API_HEADERS


def same_origin(origin: str, host: str | None) -> bool:
    """Whether a browser's ``Origin`` is the address it connects to (``Host``): a page this API served.

    Such a page still needs an API key like any client; being same-origin only proves it is not a page
    of another site, which cannot read this origin's storage (where the console keeps the key).
    """
    scheme, sep, authority = origin.partition("://")
    return bool(sep) and host is not None and scheme in ("http", "https") and authority.lower() == host.lower()


def cors_headers(origin: str | None, allowed: Iterable[str]) -> Headers:
    """Headers letting a listed browser origin read an answer (none for any other origin)."""
    if origin is None or origin not in allowed:
        return []
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


class SecurityHeaders:
    """Adds :func:`security_headers` to every HTTP answer of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)
