"""What a machine's bearer token may do: its scopes (pure; data read by web.auth).

A token no longer carries its whole role: each API endpoint needs one scope, ``<area>:read`` for reading and
``<area>:write`` for changing, where the area is the endpoint's part of the API (``AREAS``, by the API module's
blueprint); a token is let in only where it holds that scope, and its role still applies on top. Endpoints that
only people use (``PEOPLE_ONLY``: notifications, users, one's own password) refuse every token. A token with
``events:write`` may also be limited to named sources: an event of another source is refused.

``ioc token create NAME --role ROLE`` gives what a station or a department's system needs, ``events:write`` and
``alerts:read`` (the public contract: such a token reads /api/v1/alerts), unless ``--scope`` says otherwise.
"""

from __future__ import annotations

from engine.errors import N_, Invalid

# The API module's blueprint name -> the area of its scopes (None: people only).
AREAS: dict[str, str | None] = {
    "events": "events", "alerts": "alerts", "tasks": "tasks", "instances": "instances", "messages": "instances",
    "directives": "directives", "processes": "processes", "organisation": "org", "live": "stream",
    "notifications": None, "indicators": "indicators", "sources": "sources", "entities": "entities",
    "traffic": "traffic", "cameras": "cameras",
}
SCOPES: dict[str, str] = {
    "events:write": N_("send events"),
    "events:read": N_("read quarantined events"),
    "events:requeue": N_("send quarantined events back for evaluation"),
    "alerts:read": N_("read alerts and their CAP and feeds"),
    "alerts:write": N_("acknowledge and handle alerts"),
    "tasks:read": N_("read tasks"),
    "tasks:write": N_("take and complete tasks"),
    "instances:read": N_("read process instances"),
    "instances:write": N_("start, message and operate process instances"),
    "directives:read": N_("read directives"),
    "directives:write": N_("issue directives"),
    "processes:read": N_("read process definitions"),
    "processes:write": N_("deploy processes"),
    "org:read": N_("read units and departments"),
    "stream:read": N_("follow the live changes and the wall"),
    "indicators:read": N_("read indicators"),
    "indicators:write": N_("send indicator observations and targets"),
    "sources:read": N_("read data sources and their health"),
    "sources:write": N_("manage data sources and upload their files"),
    "entities:read": N_("read stations, vessels and cameras"),
    "entities:write": N_("send vessel positions and registries"),
    "traffic:read": N_("trace plates and read violations"),
    "traffic:write": N_("record traffic findings"),
    "cameras:read": N_("read cameras and their calibration"),
    "cameras:write": N_("report a camera's health, detections and clips"),
}
DEFAULT_SCOPES = ("alerts:read", "events:write")  # a station or a department's system: send, and read alerts
READING_METHODS = ("GET", "HEAD", "OPTIONS")


def needed(blueprint: str | None, method: str) -> str | None:
    """The scope an API request needs, or None where no token may go."""
    area = AREAS.get(blueprint or "")
    if area is None:
        return None
    return f"{area}:{'read' if method in READING_METHODS else 'write'}"


def check(scopes: list[str]) -> list[str]:
    """The scopes, checked and sorted; unknown ones are refused by name."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Invalid(N_("Unknown scope %(scope)s; use some of: %(scopes)s"), code="unknown_scope",
                      scope=", ".join(unknown), scopes=", ".join(SCOPES))
    return sorted(set(scopes))
