"""The PII vault: authenticated encryption and keyed digests for sensitive values.

AES-256-GCM with a random 96-bit nonce per value; the key id travels in the
ciphertext so keys can be rotated (new values use the active key, old ones still
open with theirs). The value's kind is bound as associated data, so a name's
ciphertext can never be passed off as an ID number's. Digests are HMAC-SHA256 over
the kind and the normalised value: equal values compare equal without decryption,
and without the key a digest cannot be brute-forced from the small ID-number space.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.domain.masking import mask_id_number, mask_person_name
from service.domain.names import normalise_name
from service.domain.sealed import PiiKind, SealedValue

_FORMAT_VERSION = 1
_NONCE_BYTES = 12


class VaultError(Exception):
    """A ciphertext that cannot be opened: unknown key id, tampered, or malformed."""


def normalise_value(kind: PiiKind, plaintext: str) -> str:
    if kind is PiiKind.PERSON_NAME:
        return normalise_name(plaintext)
    return plaintext.strip().upper()


def mask_value(kind: PiiKind, plaintext: str) -> str:
    if kind is PiiKind.PERSON_NAME:
        return mask_person_name(plaintext)
    return mask_id_number(plaintext)


class AesGcmVault:
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str, digest_key: bytes) -> None:
        if active_key_id not in keys:
            raise ValueError("the active key id is not among the keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes")
            if not key_id or len(key_id.encode()) > 255:
                raise ValueError("key ids must be 1 to 255 bytes")
        if len(digest_key) < 32:
            raise ValueError("the digest key must be at least 32 bytes")
        self._keys = dict(keys)
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id
        self._digest_key = digest_key

    def active_key(self) -> tuple[str, bytes]:
        """The active key and its id: what wraps new per-enterprise keys (subject_keys.py)."""
        return self._active, self._keys[self._active]

    def key(self, key_id: str) -> bytes:
        found = self._keys.get(key_id)
        if found is None:
            raise VaultError(f"no key with id {key_id!r}")
        return found

    def digest(self, kind: PiiKind, plaintext: str) -> bytes:
        message = kind.value.encode() + b"\x00" + normalise_value(kind, plaintext).encode()
        return hmac.new(self._digest_key, message, hashlib.sha256).digest()

    def fingerprint(self, data: bytes) -> bytes:
        """A keyed hash of arbitrary bytes that may contain personal information."""
        return hmac.new(self._digest_key, b"fingerprint\x00" + data, hashlib.sha256).digest()

    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue:
        key_id = self._active.encode()
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._ciphers[self._active].encrypt(
            nonce, plaintext.encode(), kind.value.encode()
        )
        blob = bytes([_FORMAT_VERSION, len(key_id)]) + key_id + nonce + ciphertext
        return SealedValue(
            kind=kind,
            ciphertext=blob,
            digest=self.digest(kind, plaintext),
            masked=mask_value(kind, plaintext),
        )

    def open(self, sealed: SealedValue) -> str:
        blob = sealed.ciphertext
        if len(blob) < 2 or blob[0] != _FORMAT_VERSION:
            raise VaultError("unknown ciphertext format")
        key_end = 2 + blob[1]
        key_id = blob[2:key_end].decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise VaultError(f"no key with id {key_id!r}")
        nonce = blob[key_end : key_end + _NONCE_BYTES]
        try:
            plaintext = cipher.decrypt(
                nonce, blob[key_end + _NONCE_BYTES :], sealed.kind.value.encode()
            )
        except Exception as exc:
            raise VaultError("ciphertext failed authentication") from exc
        return plaintext.decode()

    @staticmethod
    def key_id_of(ciphertext: bytes) -> str:
        return ciphertext[2 : 2 + ciphertext[1]].decode()
