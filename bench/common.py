"""What the benchmarks share: the machine line and a PostgreSQL database of their own."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    return f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name`."""
    base, _sep, _old = url.rpartition("/")
    return f"{base}/{name}"


def admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)
