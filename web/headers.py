"""The security headers of every response, and those of a file sent back to a browser (docs/security.md).

Every page loads its scripts from this site only (``script-src 'self'``: no inline script, no event handler
attribute; data reach a script in ``data-*`` attributes or a ``<script type="application/json">`` block).
Inline ``style`` attributes stay allowed: the templates and bpmn-js use them, and a style cannot run code.
Pages may be framed by this site and by the origins of ``IOC_FRAME_ANCESTORS`` (the wall in the province's
portal); X-Frame-Options, which cannot name other origins, is sent only when there are none. A cookie is
marked ``Secure`` whenever the request came over HTTPS, directly or through a proxy that says so in
``X-Forwarded-Proto`` (trusting a forged one only makes the client's own cookie stricter).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, request, send_file

from engine.config import settings

BASE_POLICY = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self' 'unsafe-inline'"),
    ("img-src", "'self' data: blob:"),
    ("font-src", "'self' data:"),  # bpmn-js's icon font is a data: URL in its stylesheet
    ("connect-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
)
# No page asks for the camera, the microphone or the position; a page that needs one changes this line.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"
# A file a person attached: nothing in it runs, even when a browser shows it (an image opened in a tab).
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def content_security_policy(frame_ancestors: Iterable[str] = ()) -> str:
    directives = [*BASE_POLICY, ("frame-ancestors", " ".join(("'self'", *frame_ancestors)))]
    return "; ".join(f"{name} {value}" for name, value in directives)


def _forwarded_https(forwarded_proto: str) -> bool:
    return forwarded_proto.split(",")[0].strip().lower() == "https"


def over_https() -> bool:
    return request.is_secure or _forwarded_https(request.headers.get("X-Forwarded-Proto", ""))


def content_disposition(filename: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII name for old clients, the real one (Vietnamese) in ``filename*``."""
    plain = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    fallback = "".join(c for c in plain if c.isascii() and c.isprintable() and c not in '"\\') or "file"
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(path: Path, media_type: str, filename: str, *, inline: bool) -> Response:
    """A stored file as the browser must treat it: of this type only, shown (images) or saved, never run."""
    response = send_file(path, mimetype=media_type, conditional=True)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cache-Control"] = "private, no-cache"
    return response


StartResponse = Callable[..., Any]


class SecureCookies:
    """WSGI middleware: every cookie set on a request that came over HTTPS gets ``Secure``. Flask saves the
    session after the ``after_request`` functions, so only a layer outside Flask sees its cookie."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if environ.get("wsgi.url_scheme") != "https" and not _forwarded_https(
                environ.get("HTTP_X_FORWARDED_PROTO", "")):
            return self.app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [(k, _secure(v) if k.lower() == "set-cookie" else v) for k, v in headers],
                                  exc_info)

        return self.app(environ, start)


def _secure(cookie: str) -> str:
    return cookie if any(a.strip().lower() == "secure" for a in cookie.split(";")[1:]) else f"{cookie}; Secure"


def init_app(app: Flask) -> None:
    s = settings()
    policy = content_security_policy(s.frame_ancestors)
    app.wsgi_app = SecureCookies(app.wsgi_app)  # type: ignore[method-assign]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)  # a file response sets its own, stricter one
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if not s.frame_ancestors:
            headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if s.env == "production" or over_https():
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
