"""The few kinds of error the engine raises. The web layer turns them into 4xx JSON bodies.

Messages are English message ids marked with ``N_`` so that the web layer can translate them
(Vietnamese first); ``params`` fill their ``%(name)s`` placeholders.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:  # noqa: N802 - the usual gettext marker name
    """Marks a message for extraction; translation happens where it is shown."""
    return message


class EngineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.details = details or {}
        if code:
            self.code = code


class Invalid(EngineError):
    status = 422
    code = "invalid"


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Forbidden(EngineError):
    status = 403
    code = "forbidden"


class Conflict(EngineError):
    status = 409
    code = "conflict"


class DeployError(Invalid):
    """A process file that cannot be deployed; details name the file, line and element."""

    code = "deploy_error"
