"""Which limiter holds a source's contract over every process on the service's database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.registry_http.limits import LocalLimiter, SourceLimiter, SourceLimits
from service.adapters.registry_http.pg_limits import PostgresLimiter
from service.adapters.registry_http.sqlite_limits import SqliteLimiter


def shared_limiter(engine: AsyncEngine, source: str, limits: SourceLimits) -> SourceLimiter:
    """Through PostgreSQL for replicas; through the SQLite file for the server and the
    worker side by side on it; in this process only for an in-memory database, which no
    other process can open."""
    if engine.dialect.name == "postgresql":
        return PostgresLimiter(engine, source, limits)
    if engine.url.database not in (None, "", ":memory:"):
        return SqliteLimiter(engine, source, limits)
    return LocalLimiter(limits)
