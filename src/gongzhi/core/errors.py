"""Errors the domain raises: a machine code for the API and a message for people."""

from __future__ import annotations


class DomainError(Exception):
    """A request that cannot be carried out as asked. Maps to HTTP 400 unless a subclass says otherwise."""

    status = 400

    def __init__(self, code: str, message: str, *, details: list[dict] | None = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.details = details or []


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
