"""Vietnamese first, English available: locale choice, catalogs compiled at start, local-time display."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel, get_locale

from engine.config import settings

LOCALES = ("vi", "en")
TRANSLATIONS = Path(__file__).parent / "translations"


def compile_catalogs() -> None:
    """Compile each ``messages.po`` whose ``.mo`` is missing or older (no build step to forget)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".{datetime.now().timestamp()}.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)


def select_locale() -> str:
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    stored = session.get("lang")
    if stored in LOCALES:
        return str(stored)
    return "vi"


def localtime(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(settings().timezone)).strftime(fmt)


def number(value: float | int | None, digits: int = 2, fixed: bool = True) -> str:
    """A number as the reader's language writes it: 1.234,5 in Vietnamese, 1,234.5 in English; ``fixed=False``
    drops trailing zeros (67,5 and 75 rather than 75,0)."""
    if value is None:
        return "—"
    from flask_babel import format_decimal

    pattern = "#,##0" + ("." + ("0" if fixed else "#") * digits if digits else "")
    return str(format_decimal(value, format=pattern))


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = "vi"
    app.config["BABEL_DEFAULT_TIMEZONE"] = settings().timezone
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals["get_locale"] = get_locale
