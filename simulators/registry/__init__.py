"""The registry simulator: a government registry and an enterprise-data provider in one
HTTP process, serving the shapes of docs/registry-wire.md.

One asyncio process answers every request, so its counters (requests, requests in flight,
limit violations) are exact under any concurrency: they change only between awaits.
"""
