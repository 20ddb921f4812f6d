"""Every error a client sees: ``{"code", "message", "details"}`` with the right 4xx; never a traceback.

Before it answers, every handler rolls the request's database session back: after a failed statement PostgreSQL
refuses every other one in the transaction (and SQLAlchemy refuses a session whose flush failed), while the error
page reads the person and their unread notifications for its navigation. Nothing is lost by it: what a request has
not committed is rolled back when it ends anyway."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext
from flask_smorest import Api
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError

log = logging.getLogger(__name__)
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


def translate(message: str, params: dict[str, Any] | None = None) -> str:
    return gettext(message, **(params or {}))


def translate_tree(value: Any) -> Any:
    """Translate the messages in a nested structure of field errors."""
    if isinstance(value, str):
        return gettext(value)
    if isinstance(value, list):
        return [translate_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: translate_tree(v) for k, v in value.items()}
    return value


def body(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> tuple[Response, int]:
    return jsonify({"code": code, "message": message, "details": details or {}}), status


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def rollback_request_session() -> None:
    """The request's session (``web.db``), if it has one, rolled back so that the answer can read the database."""
    session = g.get("db")
    if session is None:
        return
    try:
        session.rollback()
    except SQLAlchemyError as exc:  # the connection itself is broken: the pool gives the next request another
        log.warning("could not roll back the request's session: %s", exc.__class__.__name__)


def _respond(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Any:
    rollback_request_session()
    if wants_json():
        return body(status, code, message, details)
    return render_template("error.html", status=status, message=message, details=details or {}), status


class IocApi(Api):
    """flask-smorest, with its error bodies in the project's shape."""

    def handle_http_exception(self, error: HTTPException) -> Any:  # type: ignore[override]
        return http_error(error)


def http_error(error: HTTPException) -> Any:
    status = error.code or 500
    details: dict[str, Any] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        details["fields"] = messages.get("json", messages) if isinstance(messages, dict) else messages
    message = {400: gettext("The request is malformed"), 401: gettext("Log in first"),
               403: gettext("You may not do this"), 404: gettext("Not found"),
               405: gettext("This method is not allowed here"),
               413: gettext("The request is too large"),
               422: gettext("Some fields are not valid")}.get(status, error.description or error.name)
    if status == 400 and "json" in f"{error.description} {messages}".lower():
        message = gettext("The body is not valid JSON")
    return _respond(status, CODES.get(status, "error"), message, details)


def init_app(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(err: EngineError) -> Any:
        details = dict(err.details)
        if "fields" in details:
            details["fields"] = translate_tree(details["fields"])
        return _respond(err.status, err.code, translate(err.message, err.params), details)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        return _respond(400, "csrf_failed", gettext("The form has expired; reload the page and try again"))

    @app.errorhandler(StaleDataError)
    def _stale(_err: StaleDataError) -> Any:
        return _respond(409, "conflict", gettext("Someone else changed this at the same moment; try again"))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        return http_error(err)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", gettext("Something went wrong on our side; it has been logged"))
