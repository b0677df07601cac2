"""Points and boundaries: which region contains a point, and coordinate conversion.

Coordinates are stored in WGS-84. Phone map SDKs in China return GCJ-02 (Amap, Tencent) or BD-09
(Baidu); convert those on entry with `to_wgs84`.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import Count, Max
from shapely.geometry import shape

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 obfuscation.
_A = 6378245.0
_EE = 0.00669342162296594323


def _outside_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _outside_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Invert GCJ-02 by fixed-point iteration: error under 1e-7° (about 1 cm) after a few steps."""
    if _outside_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(10):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < 1e-9 and abs(dlat) < 1e-9:
            break
    return wlon, wlat


_X_PI = math.pi * 3000.0 / 180.0


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def to_wgs84(lon: float, lat: float, system: str = "wgs84") -> tuple[float, float]:
    system = system.lower().replace("-", "")
    if system == "wgs84":
        return lon, lat
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    raise ValueError(f"unknown coordinate system {system!r}")


@dataclass(frozen=True)
class Located:
    region_id: int
    code: str
    depth: int


class Locator:
    """An STRtree over region boundaries; answers "smallest region containing this point"."""

    def __init__(self, rows: list[tuple[int, str, str, dict]]):
        self.by_id: dict = {}  # region objects by id, filled by locator()
        self.regions = []
        geoms = []
        for region_id, code, path, boundary in rows:
            geom = shape(boundary)
            if geom.is_empty:
                continue
            shapely.prepare(geom)
            geoms.append(geom)
            self.regions.append(Located(region_id, code, path.count("/")))
        self.geoms = geoms
        self.areas = [g.area for g in geoms]
        self._areas = np.array(self.areas, dtype=float)
        self._depths = np.array([r.depth for r in self.regions], dtype=int)
        self.tree = shapely.STRtree(geoms) if geoms else None

    def locate(self, lon: float, lat: float) -> Located | None:
        if self.tree is None:
            return None
        point = shapely.Point(lon, lat)
        best = None
        for i in self.tree.query(point, predicate="intersects"):
            # Deepest level first; among equals (overlap from bad data) the smaller area.
            key = (-self.regions[i].depth, self.areas[i])
            if best is None or key < best[0]:
                best = (key, i)
        return self.regions[best[1]] if best else None

    def locate_many(self, lons, lats) -> list[Located | None]:
        """Vectorised: one tree query for all points, then the deepest (then smallest) match per point."""
        n = len(lons)
        if self.tree is None or n == 0:
            return [None] * n
        pt_idx, geom_idx = self.tree.query(shapely.points(lons, lats), predicate="intersects")
        if len(pt_idx) == 0:
            return [None] * n
        # Sort candidate pairs by point, then deepest level, then smallest area; keep each point's first.
        order = np.lexsort((self._areas[geom_idx], -self._depths[geom_idx], pt_idx))
        pt_sorted, geom_sorted = pt_idx[order], geom_idx[order]
        first = np.ones(len(pt_sorted), dtype=bool)
        first[1:] = pt_sorted[1:] != pt_sorted[:-1]
        result: list[Located | None] = [None] * n
        for p, g in zip(pt_sorted[first].tolist(), geom_sorted[first].tolist(), strict=True):
            result[p] = self.regions[g]
        return result


_lock = threading.Lock()
_cached: tuple[tuple, Locator] | None = None
_checked_at = 0.0
# How often a process asks the database whether another process changed a boundary. Changes made
# in this process are seen at once (core.signals invalidates); others within this many seconds.
RECHECK_SECONDS = 1.0


def _boundary_version() -> tuple:
    from gongzhi.core.models import Region

    stats = Region.objects.filter(boundary__isnull=False).aggregate(n=Count("id"), latest=Max("updated_at"))
    return stats["n"], stats["latest"]


def locator() -> Locator:
    """The current locator; rebuilt when any boundary was added, changed or removed (any process)."""
    global _cached, _checked_at
    from gongzhi.core.models import Region

    now = time.monotonic()
    if _cached is not None and now - _checked_at < RECHECK_SECONDS:
        return _cached[1]
    version = _boundary_version()
    with _lock:
        if _cached is None or _cached[0] != version:
            regions = list(Region.objects.filter(boundary__isnull=False))
            built = Locator([(r.id, r.code, r.path, r.boundary) for r in regions])
            built.by_id = {r.id: r for r in regions}
            _cached = (version, built)
        _checked_at = now
        return _cached[1]


def invalidate() -> None:
    global _cached
    with _lock:
        _cached = None


def locate(lon: float, lat: float, *, system: str = "wgs84"):
    """The smallest region whose boundary contains the point, or None."""

    lon, lat = to_wgs84(lon, lat, system)
    current = locator()
    found = current.locate(lon, lat)
    # A copy of the region loaded with the boundaries: no query per point, no shared instance.
    return copy.copy(current.by_id[found.region_id]) if found else None
