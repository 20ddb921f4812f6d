"""POST /api/v1/events: a batch of events in; each stored once; evaluated in the background."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.events import IncomingEvent, ingest_events
from web.api.schemas import EventBatch, IngestOut
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/events"
blp = Blueprint("events", __name__, description="Events from sources, sensors and cameras")


@blp.route("")
class Events(MethodView):
    @api_auth("operator", "admin")
    @blp.arguments(EventBatch)
    @blp.response(202, IngestOut)
    def post(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Ingest a batch of up to 1,000 events.

        An event repeated with the same `source` and `idempotency_key` (or, without a key, the same
        content) is stored once and counted in `duplicates`. Accepted events are evaluated against
        the rules within seconds; alerts and processes follow from there.
        """
        session = db()
        incoming = [IncomingEvent(**e) for e in batch["events"]]
        result = ingest_events(session, incoming, principal().name)
        session.commit()
        return {"accepted": len(result.accepted), "duplicates": result.duplicates, "ids": result.accepted}
