"""Registry sources over HTTP: the government registry and the enterprise-data provider.

Each client turns its source's wire answers (docs/registry-wire.md) into domain values,
sealing personal data as it is parsed. Between a client and the network sits one
`SourceTransport` per source: a deadline inside the caller's, retries of what is safe to
retry, a circuit breaker, and the source's contracted concurrency and rate (in-process on
SQLite, shared through PostgreSQL otherwise).

Errors: whatever stops a source from answering is `RegistryUnavailable` (its message a
reason code, never personal data); "no record" is None.
"""
