"""Credentials inside addresses: a camera's stream URL or a source's URL carrying a password in its userinfo
(``rtsp://admin:p/ss@w0rd@10.1.2.3:554/Streaming/101``) or a token in its query (``?user=admin&pwd=…``).

Pure functions, no I/O: an address split into its parts, robust to a password holding ``/``, ``@``, ``:`` or
``?`` (the userinfo is everything before the *last* ``@`` that a host follows); the address as it may be shown,
its password and the values of its sensitive query parameters replaced by ``MASK``; an edited address whose
parts still shown masked are taken back from the stored one; and free text (an error message) with any such
secret masked. Keeping the secret itself (encrypted) is ``engine.secrets``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import unquote

MASK = "***"
# A query parameter whose name holds one of these is a secret (password, pwd, token, api_key, auth, signature,
# X-Amz-Credential, sessionid…). Masking a harmless one (``keyframe``) costs nothing but its display.
SENSITIVE = ("pass", "pwd", "secret", "token", "key", "auth", "sig", "credential", "session", "cookie")
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(:\d{0,5})?(?=[/?#]|$)")
URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
PARAM_IN_TEXT = re.compile(r"([?&;][^=&;\s'\"<>]+=)([^&;\s'\"<>)]+)")


@dataclass(frozen=True)
class Address:
    """``scheme://[user[:password]@]host[:port]rest`` (``rest``: path, query and fragment, as written)."""

    scheme: str
    user: str | None
    password: str | None
    host: str
    rest: str

    def url(self) -> str:
        userinfo = "" if self.user is None else self.user + ("" if self.password is None else ":" + self.password) + "@"
        return f"{self.scheme}://{userinfo}{self.host}{self.rest}"


def sensitive(name: str) -> bool:
    """Whether a query parameter (or configuration key) named so carries a secret."""
    folded = unquote(name).lower()
    return any(word in folded for word in SENSITIVE)


def split(url: str) -> Address | None:
    """The address's parts, or None when it is not ``scheme://host…`` (a file path, ``synthetic:720p``)."""
    scheme = SCHEME.match(url)
    if scheme is None:
        return None
    after = url[scheme.end():]
    for at in (i for i in range(len(after) - 1, -1, -1) if after[i] == "@"):
        host = HOST.match(after, at + 1)
        if host:
            user, colon, password = after[:at].partition(":")
            return Address(scheme.group(1), user, password if colon else None, host.group(0), after[host.end():])
    host = HOST.match(after)
    if host is None:
        return None
    return Address(scheme.group(1), None, None, host.group(0), after[host.end():])


def _query(rest: str) -> tuple[str, list[tuple[str, str | None]], str]:
    """(path, [(name, value or None when there is no '=')], '#fragment' or '')."""
    path, question, query = rest.partition("?")
    if not question:
        return rest, [], ""
    query, hash_, fragment = query.partition("#")
    params = [(name, value if eq else None) for name, eq, value in (p.partition("=") for p in query.split("&"))]
    return path, params, hash_ + fragment


def _with_query(path: str, params: list[tuple[str, str | None]], fragment: str) -> str:
    if not params:
        return path + fragment
    return path + "?" + "&".join(n if v is None else f"{n}={v}" for n, v in params) + fragment


def masked(url: str | None) -> str:
    """The address as anyone may see it: ``rtsp://admin:***@10.1.2.3:554/s1``, ``http://h/snap.jpg?user=admin&pwd=***``.
    An address with a scheme that cannot be read is masked whole (``rtsp://***``); a file path is shown as it is."""
    url = url or ""
    address = split(url)
    if address is None:
        scheme = SCHEME.match(url)
        return url if scheme is None or not url[scheme.end():] else scheme.group(0) + MASK
    path, params, fragment = _query(address.rest)
    shown = [(n, MASK if v and sensitive(n) else v) for n, v in params]
    return replace(address, password=MASK if address.password else address.password,
                   rest=_with_query(path, shown, fragment) if params else address.rest).url()


def has_secret(url: str | None) -> bool:
    """Whether the address carries a password or a sensitive query value (then it is kept encrypted)."""
    return masked(url) != (url or "")


def _is_mask(value: str | None) -> bool:
    return value is not None and unquote(value) == MASK


def unmasked(edited: str, stored: str | None) -> str:
    """The address as edited, with each part still shown masked taken back from ``stored`` (a form or an API
    client sends back what it was shown). Raises ValueError when a masked part has nothing to come back from, or
    when the address now points to another scheme or host: a stored password is never sent somewhere new unseen."""
    if stored is not None and edited == masked(stored):
        return stored
    new = split(edited)
    if new is None or not (_is_mask(new.password) or any(_is_mask(v) for _n, v in _query(new.rest)[1])):
        if new is None and MASK in edited and SCHEME.match(edited):
            raise ValueError("the address is masked: enter it again in full")
        return edited
    old = split(stored or "")
    if old is None or (new.scheme.lower(), new.host.lower()) != (old.scheme.lower(), old.host.lower()):
        raise ValueError("the address changed: enter its password or token again")
    password = new.password
    if _is_mask(password):
        if old.password is None:
            raise ValueError("no password is kept for this address: enter it")
        password = old.password
    path, params, fragment = _query(new.rest)
    kept = dict(_query(old.rest)[1])
    for i, (name, value) in enumerate(params):
        if _is_mask(value):
            if kept.get(name) is None:
                raise ValueError(f"no value is kept for {name}: enter it")
            params[i] = (name, kept[name])
    return replace(new, password=password, rest=_with_query(path, params, fragment)).url()


def scrub(text: str) -> str:
    """Free text (an error message, a log line) with the secrets of any address in it masked, and the values of
    sensitive query parameters it quotes on their own (``url: /hook?token=…``)."""
    text = URL_IN_TEXT.sub(lambda m: masked(m.group(0)), text)
    return PARAM_IN_TEXT.sub(lambda m: m.group(1) + MASK if sensitive(m.group(1)[1:-1]) else m.group(0), text)
