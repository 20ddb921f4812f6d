"""REST API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json, browsable at /api/v1/docs)."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from engine.errors import EngineError
from web.api.schemas import Error
from web.errors import IocApi


class DocumentedApi(IocApi):
    """The API, its error responses documented in the shape web.errors answers: ``{code, message, details}``, the
    code a string (flask-smorest's default schema says an integer, and fields no answer has)."""

    ERROR_SCHEMA = Error


class NotJson(EngineError):
    status = 415
    code = "unsupported_media_type"


def init_app(app: Flask, csrf: CSRFProtect) -> IocApi:
    from web.api import (
        alerts,
        cameras,
        directives,
        entities,
        events,
        indicators,
        instances,
        messages,
        notifications,
        org,
        processes,
        sources,
        stream,
        tasks,
        tokens,
        traffic,
    )

    app.config.update(
        API_TITLE="IOC API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served from our own static files (npm swagger-ui-dist): nothing is loaded from the internet.
        OPENAPI_SWAGGER_UI_URL="/static/vendor/swagger-ui/",
        API_SPEC_OPTIONS={
            "info": {"description": "Trung tâm giám sát, điều hành thông minh — events in, alerts, processes, "
                                    "tasks and live changes out. Errors are {code, message, details}."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"}}},
            "security": [{"bearer": []}, {"cookie": []}],
        },
    )
    api = DocumentedApi(app)

    @app.before_request
    def _json_only() -> None:
        """A body sent to the API must say it is JSON (or a multipart upload), rather than be ignored."""
        if not request.path.startswith("/api/") or request.method not in ("POST", "PUT", "PATCH"):
            return
        if request.path.endswith(".csv") and request.mimetype in ("text/csv", "text/plain"):
            return  # the few endpoints that take CSV say so in their path
        if request.content_length and not (request.is_json or request.mimetype == "multipart/form-data"):
            raise NotJson("Send the body as JSON (Content-Type: application/json)",
                          details={"content_type": request.mimetype})
    for module in (events, alerts, tasks, instances, directives, messages, processes, org, stream, notifications,
                   indicators, sources, entities, traffic, cameras, tokens):
        # The API checks CSRF itself, for cookie sessions only (X-CSRFToken); bearer tokens need none.
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
    return api
