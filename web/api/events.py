"""POST /api/v1/events: a batch of events in; each stored once; evaluated in the background."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import intake, quarantine
from engine.bulk import paused_gc
from engine.errors import N_, Invalid
from engine.event_check import check_event, latest_time
from engine.events import IncomingEvent, ingest_events
from engine.models import Unit
from web.api.schemas import EventBatch, IngestOut, QuarantineOut, QuarantineQuery, RequeueIn, RequeueOut
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/events"
blp = Blueprint("events", __name__, description="Events from sources, sensors and cameras")


@blp.route("")
class Events(MethodView):
    checks_items_itself = True  # a NUL or a NaN refuses its event by index, not the batch (web.input_guard)

    @api_auth("operator", "admin")
    @blp.arguments(EventBatch)
    @blp.response(202, IngestOut)
    def post(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Ingest a batch of up to 1,000 events (each an `EventIn`).

        Valid events are stored; each invalid one is answered in `errors` with its index, field and reason
        (a batch with no valid event gets 422).

        An event repeated with the same `source` and `idempotency_key` (or, without a key, the same
        content) is stored once and counted in `duplicates`. Accepted events are evaluated against
        the rules within seconds; alerts and processes follow from there.
        """
        session = db()
        # up to 1,000 events: many small objects, no cycles (engine.bulk); on SQLite, evaluation waits (engine.intake)
        with paused_gc(), intake.bulk_intake(len(batch["events"])):
            incoming, errors = checked_events(session, batch["events"], principal().sources)
            if not incoming:
                raise Invalid(N_("No event of the batch is valid"), details={"events": errors})
            result = ingest_events(session, incoming, principal().name)
            session.commit()
        return {"accepted": len(result.accepted), "duplicates": result.duplicates, "ids": result.accepted,
                "errors": errors}


@blp.route("/quarantined")
class Quarantined(MethodView):
    @api_auth("operator", "admin")
    @blp.arguments(QuarantineQuery, location="query")
    @blp.response(200, QuarantineOut)
    def get(self, query: dict[str, Any]) -> Any:
        """Events whose evaluation kept failing, newest first: kept with their error, not evaluated again
        until sent back."""
        return quarantine.quarantined(db(), limit=query["limit"], before_id=query["before_id"])


@blp.route("/quarantined/requeue")
class Requeue(MethodView):
    @api_auth("operator", "admin", scope="events:requeue")
    @blp.arguments(RequeueIn)
    @blp.response(202, RequeueOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send quarantined events back for evaluation (the given `ids`, or all of them), once their cause is
        fixed. Ids that are not quarantined are left alone; each event gets its full attempts again."""
        ids = quarantine.requeue(db(), principal(), body["ids"])
        db().commit()
        return {"requeued": len(ids), "ids": ids}


def checked_events(session: Session, raw: list[Any], sources: tuple[str, ...] | None = None
                   ) -> tuple[list[IncomingEvent], list[dict[str, Any]]]:
    """The valid events of a batch, and for each invalid one its index, field and reason. A token limited to
    some ``sources`` sends only theirs."""
    good: list[tuple[int, IncomingEvent]] = []
    errors: list[dict[str, Any]] = []
    latest = latest_time()
    for index, item in enumerate(raw):
        event, problems = check_event(item, latest)
        if event is None:
            errors.extend({"index": index, "field": field, "reason": reason} for field, reason in problems)
        elif sources is not None and event.source not in sources:
            errors.append({"index": index, "field": "source",
                           "reason": f"this token may send events of {', '.join(sources)} only"})
        else:
            good.append((index, event))
    named = {e.unit for _i, e in good if e.unit}
    known = set(session.scalars(select(Unit.code).where(Unit.code.in_(named)))) if named else set()
    events = []
    for index, e in good:
        if e.unit and e.unit not in known:
            errors.append({"index": index, "field": "unit", "reason": "unknown administrative unit code"})
        else:
            events.append(e)
    return events, sorted(errors, key=lambda x: x["index"])
