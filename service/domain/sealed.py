"""Sensitive values as the rest of the system holds them: sealed, never in plaintext.

The legal representative's name and ID number are sensitive personal information.
Outside the moment a request is validated they travel only as SealedValue: an
authenticated ciphertext (for the rare lawful need to read it back), a keyed
digest (to compare with the registry without decrypting), and the masked form
(for responses).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PiiKind(StrEnum):
    """What a sealed value is: keeps digests of different kinds from ever comparing equal."""

    PERSON_NAME = "person_name"
    ID_NUMBER = "id_number"


@dataclass(frozen=True)
class SealedValue:
    kind: PiiKind
    ciphertext: bytes
    digest: bytes
    masked: str

    def __repr__(self) -> str:  # keep ciphertexts and digests out of logs and tracebacks
        if self.destroyed:
            return f"SealedValue(kind={self.kind.value}, destroyed)"
        return f"SealedValue(kind={self.kind.value}, masked={self.masked!r})"

    @classmethod
    def destroyed_value(cls, kind: PiiKind) -> SealedValue:
        """What is kept of a value once it is destroyed (its person withdrew their
        authorisation): only that there was one."""
        return cls(kind=kind, ciphertext=b"", digest=b"", masked="")

    @property
    def destroyed(self) -> bool:
        return not self.ciphertext

    def same_as(self, other: SealedValue) -> bool:
        """Equal values under the same key; a destroyed value equals nothing."""
        if self.destroyed or other.destroyed:
            return False
        return self.kind == other.kind and self.digest == other.digest


@dataclass(frozen=True)
class SealedLegalRepresentative:
    name: SealedValue
    # Some registry sources do not publish the ID number.
    id_number: SealedValue | None

    @property
    def destroyed(self) -> bool:
        """The person's data was destroyed (crypto-shredded): nothing of it can be read or
        compared any more."""
        return self.name.destroyed
