"""Python clients for the enterprise integrity service."""

from clients.aio import AsyncIntegrityClient
from clients.errors import FieldViolation, IntegrityCallError
from clients.sync import IntegrityClient

__all__ = ["AsyncIntegrityClient", "FieldViolation", "IntegrityCallError", "IntegrityClient"]
