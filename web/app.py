"""The Flask application factory."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, abort, send_from_directory
from flask_wtf.csrf import CSRFProtect

from engine.config import REPO_ROOT, settings
from web import (
    account_pages,
    admin_pages,
    admin_tokens,
    alert_pages,
    api,
    approval_pages,
    cockpit_pages,
    data_pages,
    db,
    errors,
    headers,
    i18n,
    input_guard,
    pages,
    rule_pages,
    sso,
)

csrf = CSRFProtect()


def register_sectors(app: Flask) -> None:
    """Each registered sector's pages (engine.sectors: ``web_module``, its ``bp``)."""
    from engine import sectors

    for sector in sectors.all_sectors():
        if sector.web_module:
            app.register_blueprint(importlib.import_module(sector.web_module).bp)


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change otherwise
VENDOR = {"swagger-ui": REPO_ROOT / "node_modules" / "swagger-ui-dist",
          "bpmn-js": REPO_ROOT / "node_modules" / "bpmn-js" / "dist"}
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    s = settings()
    s.check_production()
    app = Flask(__name__)
    input_guard.init_app(app)  # before any route: bounded ids, refused NUL, deep or huge JSON; answers always JSON
    app.config.update(
        SECRET_KEY=s.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=s.env == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_AS_ASCII=False,
    )
    app.config.update(overrides or {})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  - Vietnamese stays readable in JSON
    configure_logging()
    db.init_app(app)
    i18n.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(alert_pages.bp)
    app.register_blueprint(rule_pages.bp)
    app.register_blueprint(approval_pages.bp)
    app.register_blueprint(data_pages.bp)
    register_sectors(app)
    app.register_blueprint(cockpit_pages.bp)
    app.register_blueprint(account_pages.bp)
    app.register_blueprint(admin_tokens.bp)
    app.register_blueprint(admin_pages.bp)
    sso.init_app(app)  # OpenID Connect single sign-on, when IOC_OIDC_ISSUER is set
    api.init_app(app, csrf)

    @app.route("/static/vendor/<package>/<path:filename>", endpoint="pages_vendor")
    def vendor(package: str, filename: str) -> Any:
        root = VENDOR.get(package)
        if root is None or not Path(root).is_dir():
            abort(404)
        return send_from_directory(root, filename)

    headers.init_app(app)  # CSP, framing, HSTS, Secure cookies over HTTPS
    return app
