"""Python clients for the enterprise integrity service."""

from clients.aio import AsyncIntegrityClient
from clients.errors import FieldViolation, IntegrityCallError
from clients.sync import IntegrityClient
from clients.tls import ClientTls

__all__ = [
    "AsyncIntegrityClient",
    "ClientTls",
    "FieldViolation",
    "IntegrityCallError",
    "IntegrityClient",
]
