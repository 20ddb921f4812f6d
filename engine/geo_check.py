"""GeoJSON area files (rules' geofences, the fisheries sea zones) checked with shapely before the engine uses them.

A polygon that crosses itself or whose holes leave it reads as plain JSON and then breaks shapely's operations
(the sea screen's union fails for every AIS batch), or gives answers nobody drew. ``problems`` names each invalid
area with its line, the reason (``explain_validity``) and the shape ``make_valid`` repairs it into; ``repaired``
is the whole file with those shapes, for ``ioc rules check --repair`` to write beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity, make_valid

MAX_BYTES = 20 * 1024 * 1024  # an area file larger than this is refused (the official sea lines are far smaller)
SHOWN_REPAIR_CHARS = 400  # a repaired shape longer than this is written by --repair, not printed
AREA_TYPES = ("Polygon", "MultiPolygon")
_FEATURE = re.compile(r'"type"\s*:\s*"Feature"')


@dataclass(frozen=True)
class AreaProblem:
    line: int
    message: str


def read(path: Path) -> Any:
    """The file's JSON; ValueError (with the reason) when it is too big or not JSON."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"the file is {size // (1024 * 1024)} MB; area files are limited to "
                         f"{MAX_BYTES // (1024 * 1024)} MB")
    return json.loads(path.read_text(encoding="utf-8"))


def _areas(obj: Any, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Mapping[str, Any], dict[str, Any]]]:
    """(feature path, feature properties, geometry) of each Polygon and MultiPolygon, in file order."""
    if not isinstance(obj, Mapping):
        return
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for i, feature in enumerate(obj.get("features") or []):
            yield from _areas(feature, (*path, i))
    elif kind == "Feature" and isinstance(obj.get("geometry"), Mapping):
        for _p, _props, geometry in _areas(obj["geometry"], path):
            yield path, obj.get("properties") or {}, geometry
    elif kind == "GeometryCollection":
        for part in obj.get("geometries") or []:
            yield from _areas(part, path)
    elif kind in AREA_TYPES:
        yield path, {}, dict(obj)


def _polygonal(geometry: Any) -> Any:
    """The areas of what ``make_valid`` returns (it may add the lines and points where a shape folded)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    polygons = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(polygons)


def _label(path: tuple[int, ...], props: Mapping[str, Any]) -> str:
    name = next((str(props[k]) for k in ("name", "zone", "id") if props.get(k)), "")
    where = f"feature {path[-1] + 1}" if path else "the geometry"
    return f"{where} ({name})" if name else where


def _check(geometry: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """Why the geometry is not a valid area, and its repaired shape (None when it cannot be built at all)."""
    try:
        shaped = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        return f"its coordinates do not make a {geometry.get('type')}: {exc}", None
    if shaped.is_valid:
        return None
    repaired = _polygonal(make_valid(shaped))
    return explain_validity(shaped), dict(mapping(repaired))


def problems(collection: Any, text: str = "", repair_hint: str = "") -> list[AreaProblem]:
    """The invalid areas of a GeoJSON object; ``text`` (the file) gives their lines."""
    starts = [text.count("\n", 0, m.start()) + 1 for m in _FEATURE.finditer(text)]
    out = []
    for path, props, geometry in _areas(collection):
        found = _check(geometry)
        if found is None:
            continue
        reason, repaired = found
        line = starts[path[-1]] if path and path[-1] < len(starts) else 1
        message = f"{_label(path, props)}: the {geometry.get('type')} is not valid: {reason}"
        if repaired is not None:
            shown = json.dumps(repaired, separators=(",", ":"))
            message += (f"; make_valid repairs it as {shown}" if len(shown) <= SHOWN_REPAIR_CHARS
                        else f"; make_valid repairs it as a {repaired['type']}") + repair_hint
        out.append(AreaProblem(line, message))
    return out


def repaired(collection: Any) -> Any:
    """The GeoJSON object with each invalid area replaced by its ``make_valid`` repair (others untouched)."""
    if isinstance(collection, list):
        return [repaired(item) for item in collection]
    if not isinstance(collection, Mapping):
        return collection
    if collection.get("type") in AREA_TYPES:
        found = _check(dict(collection))
        return found[1] if found is not None and found[1] is not None else dict(collection)
    return {k: repaired(v) if k in ("features", "geometry", "geometries") else v for k, v in collection.items()}


def repaired_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".geojson") + ".repaired.geojson")


def check_file(path: Path) -> list[AreaProblem]:
    """The problems of one area file (unreadable, too big, not JSON, or invalid areas)."""
    try:
        collection = read(path)
    except (OSError, ValueError) as exc:
        return [AreaProblem(1, f"cannot read the file: {exc}")]
    hint = f" (ioc rules check --repair writes {repaired_path(path).name})"
    return problems(collection, path.read_text(encoding="utf-8"), hint)


def write_repaired(path: Path) -> Path:
    """Write the file's repaired copy beside it (``NAME.repaired.geojson``); returns its path."""
    target = repaired_path(path)
    target.write_text(json.dumps(repaired(read(path)), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target
