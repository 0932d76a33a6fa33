"""Signed tree heads of the disclosure log: C2SP checkpoints, signed as C2SP signed notes.

A checkpoint is three lines, the log's origin, its tree size and its root hash (base64),
signed with the log's Ed25519 key (c2sp.org/tlog-checkpoint, c2sp.org/signed-note):

    integrity.example/disclosures
    20852163
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — integrity.example/disclosures Az3grlgtzPICa5OS8npVmf1Myq/5IZni...

Keys are written as the Go reference implementation (golang.org/x/mod/sumdb/note) writes
them, so any tool of that ecosystem reads ours: a verifier key is `name+keyid+base64(0x01
|| public key)`, a signer key `PRIVATE+KEY+name+keyid+base64(0x01 || seed)`, the key id
the first four bytes of SHA-256(name || 0x0A || 0x01 || public key), in hex.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service.domain.merkle import HASH_SIZE

ED25519 = 0x01
_DASH = "\u2014 "
_MAX_SIGNATURES = 16
_MAX_NOTE_BYTES = 1 << 16


class NoteInvalid(ValueError):
    """A note, checkpoint or key that does not read, or whose signature does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteInvalid("not base64") from None


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """A verifier key: name+keyid+base64(0x01 || 32-byte public key)."""
        name, _, rest = text.strip().partition("+")
        hex_id, _, encoded = rest.partition("+")
        if not _valid_name(name) or len(hex_id) != 8:
            raise NoteInvalid("a verifier key is name+keyid+key")
        try:
            identifier = bytes.fromhex(hex_id)
        except ValueError:
            raise NoteInvalid("the verifier key's id is not hex") from None
        raw = _b64(encoded)
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteInvalid("the verifier key is not an Ed25519 key")
        if key_id(name, raw[1:]) != identifier:
            raise NoteInvalid("the verifier key's id does not match its key")
        return cls(name, identifier, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        if not _valid_name(name):
            raise NoteInvalid("a key name is not empty and has no spaces or '+'")
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        """A signer key: PRIVATE+KEY+name+keyid+base64(0x01 || 32-byte seed)."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteInvalid("a signer key is PRIVATE+KEY+name+keyid+key")
        name, hex_id, encoded = parts[2:]
        raw = _b64(encoded)
        if not _valid_name(name) or len(raw) != 33 or raw[0] != ED25519:
            raise NoteInvalid("the signer key is not an Ed25519 key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.id.hex() != hex_id.lower():
            raise NoteInvalid("the signer key's id does not match its key")
        return signer

    def __str__(self) -> str:
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"NoteSigner({self.name!r}, <private>)"

    @property
    def verifier(self) -> NoteVerifier:
        public = self.private_key.public_key()
        return NoteVerifier(self.name, key_id(self.name, _raw_public(public)), public)

    def sign(self, text: str) -> str:
        """The signed note: the text, a blank line, and this key's signature line."""
        body = text.encode()
        _check_text(text)
        signature = self.verifier.id + self.private_key.sign(body)
        return f"{text}\n{_DASH}{self.name} {base64.b64encode(signature).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteInvalid("a note's text ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteInvalid("a note holds no control characters but newlines")


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The note's text, if the verifier's key signed it; NoteInvalid otherwise. Signatures
    of other keys are ignored, as the format asks; one of this key that fails rejects the
    note."""
    if len(note.encode()) > _MAX_NOTE_BYTES:
        raise NoteInvalid("the note is too long")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteInvalid("a note is text, a blank line, then signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    _check_text(text)
    lines = signatures.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise NoteInvalid("a note ends with a signature line and a newline")
    lines = lines[:-1]
    if len(lines) > _MAX_SIGNATURES:
        raise NoteInvalid("the note has too many signatures")
    verified = False
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteInvalid("a signature line starts with an em dash")
        name, _, encoded = line[len(_DASH) :].partition(" ")
        if not _valid_name(name) or not encoded or " " in encoded:
            raise NoteInvalid("a signature line is a key name and a signature")
        signature = _b64(encoded)
        if len(signature) < 5:
            raise NoteInvalid("a signature is a key id and the key's signature")
        if name != verifier.name or signature[:4] != verifier.id:
            continue
        if not verifier.verifies(text.encode(), signature[4:]):
            raise NoteInvalid("the note's signature does not verify")
        verified = True
    if not verified:
        raise NoteInvalid(f"the note is not signed by {verifier.name}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
            raise NoteInvalid("a checkpoint is origin, size and root hash, one a line")
        origin, size, root = lines[:3]
        if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
            raise NoteInvalid("a checkpoint's size is a decimal number without leading zeroes")
        digest = _b64(root)
        if len(digest) != HASH_SIZE:
            raise NoteInvalid("a checkpoint's root hash is 32 bytes")
        return cls(origin, int(size), digest)


def open_checkpoint(note: str, verifier: NoteVerifier) -> Checkpoint:
    """The checkpoint a signed note holds; its origin must be the verifier's key name."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise NoteInvalid("the checkpoint is of another log")
    return checkpoint


@dataclass(frozen=True)
class PublishedCheckpoint:
    checkpoint: Checkpoint
    note: str
    """The signed note, exactly as it was handed out."""
    publish_time: dt.datetime
