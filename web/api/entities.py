"""Entities over HTTP: stations, vessels and cameras with their registry facts and latest state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import entities
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Entity
from engine.text import nfc
from web.api.schemas import Bounded, Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/entities"
blp = Blueprint("entities", __name__, description="Stations, vessels and cameras, and their latest state")


class EntityKind(validate.OneOf):
    """One of the entity kinds that the registered sectors declare (engine.sectors), read when it is used."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        return entities.kinds()

    @choices.setter
    def choices(self, _value: object) -> None:
        pass

    @property  # type: ignore[override]
    def choices_text(self) -> str:
        return ", ".join(str(c) for c in self.choices)

    @choices_text.setter
    def choices_text(self, _value: object) -> None:
        pass


class EntityOut(Schema):
    kind = fields.String()
    code = fields.String()
    name = fields.String()
    unit_code = fields.String(allow_none=True)
    registered = fields.Boolean()
    attributes = fields.Dict()
    latest = fields.Dict()
    last_seen = fields.DateTime(allow_none=True)


class EntityQuery(Bounded):
    kind = fields.String(load_default=None, validate=EntityKind())
    seen_within_hours = fields.Integer(load_default=None, validate=validate.Range(min=1, max=24 * 365 * 10))
    limit = fields.Integer(load_default=5000, validate=validate.Range(min=1, max=20000))


class RegistryIn(Strict):
    kind = fields.String(required=True, validate=EntityKind())
    records = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=20000))


class RegistryOut(Schema):
    added = fields.Integer()
    updated = fields.Integer()
    errors = fields.List(fields.Dict(), metadata={"description": "each refused record: index, field, reason"})


class PositionsOut(Schema):
    accepted = fields.Integer()
    errors = fields.List(fields.Dict(), metadata={"description": "each bad record: index (or CSV row), field, "
                                                                 "reason"})


class CsvPositionsOut(PositionsOut):
    columns_not_used = fields.List(fields.String(), metadata={"description": "headers that nothing reads"})


@blp.route("")
class Entities(MethodView):
    @api_auth()
    @blp.arguments(EntityQuery, location="query")
    @blp.response(200, EntityOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Entity]:
        """Entities of a `kind` (station, vessel, camera) with their registry facts and latest state (time,
        position, values); `seen_within_hours` keeps those heard from recently."""
        since = utcnow() - timedelta(hours=args["seen_within_hours"]) if args["seen_within_hours"] else None
        return entities.listing(db(), args["kind"], since, args["limit"])


@blp.route("/registry")
class Registry(MethodView):
    @api_auth("admin", "operator")
    @blp.arguments(RegistryIn)
    @blp.response(200, RegistryOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Import a registry (e.g. the fisheries department's vessels: `code` = registration number, `name`,
        `mmsi`, `length_m`, `owner`, `home_port`, `licensed_zone`); records without a code are refused by index."""
        session = db()
        added, updated, problems = entities.register(session, body["kind"], body["records"], principal().name)
        session.commit()
        return {"added": added, "updated": updated, "errors": problems}


@blp.route("/<kind>/<path:code>")
class OneEntity(MethodView):
    @api_auth()
    @blp.response(200, EntityOut)
    def get(self, kind: str, code: str) -> Entity:
        """One entity."""
        return entities.get(db(), kind, nfc(code))


class VmsPositionsIn(Strict):
    positions = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=20000))
    source = fields.String(load_default="vms-provider", validate=validate.Length(max=100))


@blp.route("/vessels/positions")
class VmsPositions(MethodView):
    checks_items_itself = True  # a NUL or a NaN refuses its record by index, not the batch (web.input_guard)

    @api_auth("operator", "admin")
    @blp.arguments(VmsPositionsIn)
    @blp.response(202, PositionsOut)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Positions pushed by the VMS provider (JSON; each `registration`, `time` with its time zone, `lat`,
        `lon`, optional `speed_kn`, `course`): stored as `vessel_position` events and judged against the VMS/IUU
        rules. Bad records are answered by index (a batch with no good record gets 422, the records in
        `details.errors`); a vessel no registry knows is kept, flagged unregistered."""
        return _store_positions(body["positions"], body["source"])


def _store_positions(positions: list[dict[str, Any]], source: str, first_row: int = 0
                     ) -> tuple[dict[str, Any], int]:
    """VMS positions as ``vessel_position`` events; each bad record named by its index (or CSV row)."""
    from engine.event_check import event_problems, latest_time, parse_time
    from engine.events import IncomingEvent, ingest_events

    events, errors = [], []
    latest = latest_time()
    for index, p in enumerate(positions):
        where: dict[str, Any] = {"index": index} if not first_row else {"row": first_row + index}
        moment = parse_time(p.get("time"))
        lat, lon = p.get("lat"), p.get("lon")
        if not p.get("registration"):
            errors.append({**where, "field": "registration", "reason": "missing"})
        elif moment is None:
            errors.append({**where, "field": "time", "reason": "an ISO 8601 date-time with its time zone"})
        elif not (isinstance(lat, int | float) and isinstance(lon, int | float) and -90 <= lat <= 90
                  and -180 <= lon <= 180):
            errors.append({**where, "field": "lat/lon", "reason": "numbers within range"})
        else:
            values = {"lat": float(lat), "lon": float(lon),
                      **{k: p[k] for k in ("speed_kn", "course") if isinstance(p.get(k), int | float)}}
            event = IncomingEvent(source=source, type="vessel_position", sector="fisheries", time=moment,
                                  values=values, entity=str(p["registration"]),
                                  location={"lat": float(lat), "lon": float(lon)})
            problems = event_problems(event, latest)  # a NUL, NaN, a time out of range: this record only
            errors.extend({**where, "field": {"entity": "registration"}.get(field or "", field), "reason": reason}
                          for field, reason in problems)
            if not problems:
                events.append(event)
    if not events:
        raise Invalid(N_("No position of the batch is valid"), details={"errors": errors})
    session = db()
    accepted = ingest_events(session, events, principal().name).accepted
    session.commit()
    return {"accepted": len(accepted), "errors": errors}, 202


CSV_COLUMNS = {"registration": ("registration", "so_dang_ky", "số đăng ký", "ship_reg"), "time": ("time", "thoi_gian",
               "thời gian", "timestamp"), "lat": ("lat", "latitude", "vi_do", "vĩ độ"),
               "lon": ("lon", "lng", "longitude", "kinh_do", "kinh độ"), "speed_kn": ("speed_kn", "speed", "toc_do",
               "tốc độ"), "course": ("course", "huong", "hướng")}


def positions_from_csv(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a VMS provider's CSV (comma or semicolon; Vietnamese or English headers; decimal comma or point) as
    position records; the headers it does not know, to say so."""
    import csv
    import io

    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, [])
    names: dict[int, str] = {}
    unknown = []
    for i, raw in enumerate(header):
        key = raw.strip().lstrip("\ufeff").lower()
        field = next((f for f, aliases in CSV_COLUMNS.items() if key in aliases), None)
        if field:
            names[i] = field
        elif key:
            unknown.append(raw.strip())
    records = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        record: dict[str, Any] = {}
        for i, cell in enumerate(row):
            field = names.get(i)
            if field is None:
                continue
            cell = cell.strip()
            if field in ("lat", "lon", "speed_kn", "course"):
                try:
                    record[field] = float(cell.replace(",", ".")) if cell else None
                except ValueError:
                    record[field] = cell  # refused below with its row
            else:
                record[field] = cell
        records.append(record)
    return records, unknown


@blp.route("/vessels/positions.csv")
class VmsPositionsCsv(MethodView):
    @api_auth("operator", "admin")
    @blp.response(202, CsvPositionsOut)
    def post(self) -> tuple[dict[str, Any], int]:
        """The same positions as CSV (`Content-Type: text/csv`, or a multipart `file`): columns
        `registration, time, lat, lon[, speed_kn, course]` (Vietnamese headers accepted: `số đăng ký, thời gian,
        vĩ độ, kinh độ, tốc độ, hướng`; UTF-8, UTF-16 or Windows-1258), comma or semicolon separated, decimal
        point or comma. Bad rows are named by their line number; the good ones are stored. `?source=` names the
        provider."""
        from flask import request

        upload = request.files.get("file")
        raw = upload.read() if upload is not None else request.get_data()
        from connectors.spreadsheet import FileProblem, decoded_text

        try:
            text = decoded_text(raw)
        except FileProblem as exc:
            raise Invalid(N_("The CSV is not text in UTF-8, UTF-16 or Windows-1258")) from exc
        records, unknown = positions_from_csv(text)
        if not records:
            raise Invalid(N_("The CSV has no rows"), details={"columns_not_used": unknown})
        try:
            body, status = _store_positions(records, request.args.get("source", "vms-provider")[:100], first_row=2)
        except Invalid as exc:
            exc.details["columns_not_used"] = unknown
            raise
        return {**body, "columns_not_used": unknown}, status

