"""Locating points among grid polygons (budget: 1,000,000 points among 5,000 grids under 10 s).

Builds 5,000 grid polygons tiling a city-sized area (irregular quadrilaterals, not boxes), nested
in 100 communities, and locates 1,000,000 random points with `gongzhi.core.geo.Locator.locate_many`
(deepest containing region wins). Baseline in the same run: one bare shapely STRtree query of the
same points against the grid polygons alone — the floor any point-in-polygon lookup pays.

    .venv/bin/python bench/locate.py [--points N] [--grids N]
"""

import argparse
import platform
import random
import time

import numpy as np
import shapely
from shapely.geometry import mapping

from gongzhi.core.geo import Locator


def build(grids: int, seed: int = 7):
    rng = random.Random(seed)
    side = int(grids**0.5)
    lon0, lat0, step = 104.0, 30.5, 0.004  # about 400 m cells around Chengdu
    # Jittered lattice: shared corners keep the tiling gap-free, jitter makes polygons irregular.
    corners = {
        (i, j): (
            lon0 + i * step + rng.uniform(-0.3, 0.3) * step * (0 < i < side),
            lat0 + j * step + rng.uniform(-0.3, 0.3) * step * (0 < j < side),
        )
        for i in range(side + 1)
        for j in range(side + 1)
    }
    rows = []
    community_side = 10
    per = side // community_side
    for ci in range(community_side):
        for cj in range(community_side):
            box = shapely.box(
                lon0 + ci * per * step,
                lat0 + cj * per * step,
                lon0 + (ci + 1) * per * step,
                lat0 + (cj + 1) * per * step,
            )
            rows.append((len(rows) + 1, f"C{ci}{cj}", f"1/C{ci}{cj}/", mapping(box)))
    for i in range(side):
        for j in range(side):
            ring = [
                corners[(i, j)],
                corners[(i + 1, j)],
                corners[(i + 1, j + 1)],
                corners[(i, j + 1)],
                corners[(i, j)],
            ]
            poly = shapely.Polygon(ring)
            rows.append((len(rows) + 1, f"G{i}-{j}", f"1/C{i // per}{j // per}/G{i}-{j}/", mapping(poly)))
    extent = (lon0, lat0, lon0 + side * step, lat0 + side * step)
    return rows, extent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=5_000)
    args = parser.parse_args()

    rows, (x0, y0, x1, y1) = build(args.grids)
    rng = np.random.default_rng(11)
    lons = rng.uniform(x0, x1, args.points)
    lats = rng.uniform(y0, y1, args.points)

    t = time.perf_counter()
    locator = Locator(rows)
    build_s = time.perf_counter() - t

    t = time.perf_counter()
    found = locator.locate_many(lons, lats)
    ours = time.perf_counter() - t
    grids_found = sum(1 for f in found if f is not None and f.code.startswith("G"))

    grid_geoms = [shapely.geometry.shape(r[3]) for r in rows if r[1].startswith("G")]
    tree = shapely.STRtree(grid_geoms)
    t = time.perf_counter()
    tree.query(shapely.points(lons, lats), predicate="intersects")
    base = time.perf_counter() - t

    n_grids = len(grid_geoms)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"{args.points:,} points, {n_grids:,} grids in 100 communities")
    print(f"build locator:          {build_s:8.2f} s")
    print(f"Locator.locate_many:    {ours:8.2f} s   ({args.points / ours:,.0f} points/s)")
    print(f"baseline STRtree query: {base:8.2f} s")
    print(f"ratio ours/baseline:    {ours / base:8.2f}x")
    print(f"points placed in a grid: {grids_found:,} of {args.points:,}")
    print(f"budget (10 s): {'met' if ours < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
