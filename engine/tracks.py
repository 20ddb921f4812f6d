"""Vessels' tracks: positions stored as compact rows (``vessel_fixes``), written in bulk and read per vessel.

A fix is keyed by the code its report named (a registration number, or ``MMSI:<mmsi>``) and its time; a second
report of the same vessel at the same instant is ignored. See ADR 0009 for why AIS positions live here and not in
the event store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine import vms
from engine.db import insert as db_insert
from engine.events import IncomingEvent
from engine.models import VesselFix

KNOTS_PER_MS = 3600 / 1852
_TABLE = cast(Table, VesselFix.__table__)


class NewFix(NamedTuple):
    vessel: str  # the code the report named
    time: datetime  # aware
    lat: float
    lon: float
    speed_kn: float | None = None
    course: float | None = None
    heading: int | None = None
    nav_status: int | None = None
    source: str = ""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def from_values(vessel: str, time: datetime, values: Mapping[str, Any], source: str) -> NewFix | None:
    """The fix in a ``vessel_position`` event's values (AIS ``sog_kn``/``cog``, VMS ``speed_kn``/``course``,
    NGSI-LD ``sog_ms``); None without a position."""
    lat, lon = _number(values.get("lat")), _number(values.get("lon"))
    if lat is None or lon is None:
        return None
    speed = next((n * factor for key, factor in (("sog_kn", 1.0), ("speed_kn", 1.0), ("sog_ms", KNOTS_PER_MS))
                  if (n := _number(values.get(key))) is not None), None)
    course = _number(values.get("cog", values.get("course")))
    heading, status = _number(values.get("heading")), _number(values.get("nav_status"))
    return NewFix(vessel, time, lat, lon, speed, course, None if heading is None else int(heading),
                  None if status is None else int(status), source)


# SQLite: the driver's own executemany, with times written as SQLAlchemy writes them (a third faster for a busy feed)
_SQLITE_INSERT = ("INSERT INTO vessel_fixes (vessel, time, lat, lon, speed_kn, course, heading, nav_status, source) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vessel, time) DO NOTHING")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def store(session: Session, fixes: Iterable[NewFix]) -> int:
    """Insert the fixes in one statement; those already stored (same vessel and time) are left as they are.
    Returns how many were new."""
    if session.get_bind().dialect.name == "sqlite":
        driver = session.connection().connection.driver_connection
        assert driver is not None
        written: dict[datetime, str] = {}  # a busy feed's reports share their seconds

        def text(moment: datetime) -> str:
            if moment not in written:
                written[moment] = moment.astimezone(UTC).strftime(_SQLITE_TIME)
            return written[moment]

        rows = [(f.vessel, text(f.time), f.lat, f.lon, f.speed_kn, f.course, f.heading, f.nav_status, f.source)
                for f in fixes]
        if not rows:
            return 0
        cursor = driver.cursor()
        cursor.executemany(_SQLITE_INSERT, rows)
        return int(cursor.rowcount)
    dicts = [f._asdict() for f in fixes]
    if not dicts:
        return 0
    stmt = db_insert(session, _TABLE).on_conflict_do_nothing(index_elements=["vessel", "time"])
    new = session.execute(stmt.returning(_TABLE.c.id), dicts)
    return len(new.all())


def read(session: Session, vessels: list[list[str]], since: datetime, until: datetime) -> dict[str, list[vms.Fix]]:
    """Each vessel's fixes (by its first code: a vessel may be known by several, registration and MMSI) after
    ``since`` and up to ``until``, in time order, in one query."""
    owner = {code: codes[0] for codes in vessels for code in codes}
    out: dict[str, list[vms.Fix]] = {codes[0]: [] for codes in vessels}
    for vessel, moment, lat, lon, speed in session.execute(
            select(VesselFix.vessel, VesselFix.time, VesselFix.lat, VesselFix.lon, VesselFix.speed_kn)
            .where(VesselFix.vessel.in_(list(owner)), VesselFix.time > since, VesselFix.time <= until)
            .order_by(VesselFix.time, VesselFix.id)):
        out[owner[vessel]].append(vms.Fix(time=moment, lat=lat, lon=lon, speed_kn=speed))
    return out


class PositionReport(NamedTuple):
    """A position as a streaming connector (AIS) hands it over: the fix, the AIS message type and the receiving
    station; ``values`` are those of the same ``vessel_position`` event (what the vessel's latest state shows)."""

    fix: NewFix
    msg_type: int
    station: str | None = None

    @property
    def values(self) -> dict[str, Any]:
        f = self.fix
        out: dict[str, Any] = {"msg_type": self.msg_type, "lat": f.lat, "lon": f.lon}
        for name, value in (("sog_kn", f.speed_kn), ("cog", f.course), ("heading", f.heading),
                            ("nav_status", f.nav_status)):
            if value is not None:
                out[name] = value
        if self.station:
            out["station"] = self.station
        return out

    @property
    def type(self) -> str:
        return "vessel_position"

    @property
    def entity(self) -> str:
        return self.fix.vessel

    def as_event(self) -> IncomingEvent:
        """The same position as a ``vessel_position`` event (for when a rule reads positions)."""
        return IncomingEvent(source=self.fix.source, type="vessel_position", sector="fisheries", time=self.fix.time,
                             values=self.values, entity=self.fix.vessel,
                             location={"lat": self.fix.lat, "lon": self.fix.lon})
