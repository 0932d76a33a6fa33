"""Per-enterprise keys for the legal representative's personal data (crypto-shredding).

Every value of an enterprise's legal representative (name, ID number, who granted the
authorisation) is sealed with that enterprise's own data key, and its digest is keyed by a
key derived from it. The data keys live in the key store, a database of their own (not the
service's), each wrapped (AES-256-GCM) by the service's active PII key. Destroying an
enterprise's keys makes every value sealed with them unreadable and every digest
uncomparable wherever a copy of the data is, backups of the service's database included:
those copies hold ciphertext only.

Generations: a withdrawal destroys the enterprise's keys, and the enterprise is then
withdrawn: what is sealed for it meanwhile (a registry import, a registry's answer) is
kept as destroyed, not under a new key. A verification whose authorisation was granted
after the withdrawal opens a new generation (fresh_generation), and sealing resumes under
it.

Sealed blobs say which key opens them: version 2, the key reference `<uscc>/<generation>`,
the nonce, the ciphertext. Version 1 blobs (the service key, pii_vault.py) still open.

Keys for sealing are cached for a short while per process (CACHE_SECONDS): a replica that
destroyed nothing itself may seal with a destroyed key for that long after a withdrawal,
which leaves what it sealed unreadable too; opening always reads the store, and refusals
and scrubbing never depend on the cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.pii_vault import AesGcmVault, VaultError, mask_value, normalise_value
from service.adapters.storage.engine import (
    create_engine,
    is_sqlite,
    read_connection,
    write_transaction,
)
from service.adapters.storage.types import UtcDateTime
from service.domain.sealed import PiiKind, SealedValue

log = structlog.get_logger(__name__)

FORMAT_VERSION = 2
NONCE_BYTES = 12
CACHE_SECONDS = 30.0
CACHE_MOST = 4096
"""Enterprises whose sealer is kept, the least recently read dropped first. A batch needs
a chunk's worth for a moment; a larger cache would only give every full collection of
the garbage collector more to walk."""

key_store_metadata = MetaData()
subject_keys = Table(
    "subject_keys",
    key_store_metadata,
    Column("uscc", String(18), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("master_key_id", String(255), nullable=False),
    # NULL once destroyed: the row stays as the record that the enterprise's data was shredded.
    Column("wrapped_key", LargeBinary),
    Column("create_time", UtcDateTime, nullable=False),
    Column("destroy_time", UtcDateTime),
)


def key_store_engine(url: str, **options: Any) -> AsyncEngine:
    """The key store's engine. On SQLite every connection overwrites what it deletes
    (secure_delete), so a destroyed key is not left in the file's free pages."""
    engine = create_engine(url, **options)
    if is_sqlite(engine):

        @event.listens_for(engine.sync_engine, "connect")
        def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    return engine


async def ensure_key_store_database(url: str) -> None:
    """Create the key store's PostgreSQL database when it does not exist yet (which needs
    the CREATEDB privilege; without it, ops create it). Nothing to do on SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" or not parsed.database:
        return
    server = create_engine(str(parsed.set(database="postgres").render_as_string(False)))
    try:
        async with server.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            exists = await autocommit.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            )
            if not exists:
                quoted = parsed.database.replace('"', '""')
                try:
                    await autocommit.execute(text(f'CREATE DATABASE "{quoted}"'))
                except DBAPIError as error:
                    if "already exists" not in str(error.orig):
                        raise
    finally:
        await server.dispose()


class PersonalDataDestroyed(Exception):
    """The value was sealed with a key that was destroyed: it can never be read again."""


@dataclass(frozen=True)
class SubjectKey:
    uscc: str
    generation: int
    key: bytes

    @property
    def reference(self) -> bytes:
        return f"{self.uscc}/{self.generation}".encode()


class SubjectSealer:
    """Seals one enterprise's legal-representative values with its current key; with no
    key (the enterprise withdrew), keeps every value as destroyed."""

    def __init__(self, key: SubjectKey | None, service_vault: AesGcmVault) -> None:
        self._key = key
        self._cipher = AESGCM(key.key) if key is not None else None
        self._digest_key = _derived(key, b"digest") if key is not None else b""
        self._fingerprint_key = _derived(key, b"fingerprint") if key is not None else b""
        self._service_vault = service_vault

    @property
    def withholding(self) -> bool:
        return self._key is None

    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue:
        if self._key is None or self._cipher is None:
            return SealedValue.destroyed_value(kind)
        reference = self._key.reference
        nonce = os.urandom(NONCE_BYTES)
        aad = kind.value.encode() + b"\x00" + reference
        blob = (
            bytes([FORMAT_VERSION, len(reference)])
            + reference
            + nonce
            + self._cipher.encrypt(nonce, plaintext.encode(), aad)
        )
        return SealedValue(kind, blob, self.digest(kind, plaintext), mask_value(kind, plaintext))

    def digest(self, kind: PiiKind, plaintext: str) -> bytes:
        if self._key is None:
            return b""  # withholding: what it would seal is destroyed, and matches nothing
        message = kind.value.encode() + b"\x00" + normalise_value(kind, plaintext).encode()
        return hmac.new(self._digest_key, message, hashlib.sha256).digest()

    def fingerprint_matches(self, data: bytes, stored: bytes) -> bool:
        """Whether a stored fingerprint is this data's: keyed by the enterprise's key, or
        by the service key it was keyed by before per-enterprise keys."""
        return hmac.compare_digest(self.fingerprint(data), stored) or hmac.compare_digest(
            self._service_vault.fingerprint(data), stored
        )

    def fingerprint(self, data: bytes) -> bytes:
        """Keyed by the enterprise's key, so a fingerprint of a document holding the
        person's data is useless once the key is destroyed. Withholding, the caller leaves
        the person's data out and the service key serves."""
        if self._key is None:
            return self._service_vault.fingerprint(data)
        return hmac.new(self._fingerprint_key, data, hashlib.sha256).digest()


def _derived(key: SubjectKey, purpose: bytes) -> bytes:
    info = b"integrity/subject-" + purpose + b"/" + key.reference
    return HKDF(SHA256(), 32, salt=None, info=info).derive(key.key)


def reference_of(blob: bytes) -> tuple[str, int] | None:
    """(uscc, generation) of a version 2 blob; None for any other."""
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        return None
    uscc, _, generation = blob[2 : 2 + blob[1]].decode().partition("/")
    return uscc, int(generation)


class SubjectKeyring:
    """The key store, and sealing and opening with its keys."""

    def __init__(
        self,
        engine: AsyncEngine,
        vault: AesGcmVault,
        clock: Callable[[], dt.datetime],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._now = clock
        self._monotonic = monotonic
        # uscc -> (the sealer of its current key, withholding when withdrawn; when it was
        # read). The sealer itself is kept: its keys are derived once.
        self._current: OrderedDict[str, tuple[SubjectSealer, float]] = OrderedDict()
        self._schema_ready = False

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def now(self) -> dt.datetime:
        """The clock the store's times are on."""
        return self._now()

    async def create_schema(self) -> None:
        """The key store's database (on PostgreSQL) and its one table, made when missing
        (the store has no migrations: its schema is this table alone). Also done on first
        use."""
        try:
            await self._create_table()
        except Exception:  # drivers raise their own types on connect (asyncpg does)
            if is_sqlite(self._engine):
                raise
            # Most likely the store's database is not made yet: make it and try once more
            # (any other failure is raised again). The usual start costs no extra connection.
            await ensure_key_store_database(self._engine.url.render_as_string(hide_password=False))
            await self._create_table()
        self._schema_ready = True

    async def _create_table(self) -> None:
        async with self._engine.begin() as connection:
            await connection.run_sync(key_store_metadata.create_all)

    async def _ready(self) -> None:
        if not self._schema_ready:
            await self.create_schema()

    async def sealer(self, uscc: str) -> SubjectSealer:
        return (await self.sealers([uscc]))[uscc]

    async def sealers(self, usccs: Iterable[str]) -> dict[str, SubjectSealer]:
        """A sealer per enterprise: its current key, made now for an enterprise that never
        had one; a withholding sealer for one whose keys were destroyed."""
        await self._ready()
        wanted = set(usccs)
        sealers: dict[str, SubjectSealer] = {}
        moment = self._monotonic()
        for uscc in wanted:
            cached = self._current.get(uscc)
            if cached is not None and moment - cached[1] < CACHE_SECONDS:
                sealers[uscc] = cached[0]
        missing = wanted - sealers.keys()
        if missing:
            found = await self._read_current(missing)
            never = [uscc for uscc in missing if uscc not in found]
            if never:
                found.update(await self._create_first(never))
            sealers.update(self._remember(found, missing))
        return sealers

    async def read_ahead(self, usccs: Sequence[str]) -> None:
        """Fill the sealing cache for enterprises about to be answered for (a batch's
        chunk) in one read, so each answer's sealer is not a query of its own. A hint: an
        enterprise with no key yet is left for sealers() to make, and a failure only
        means each answer reads for itself."""
        moment = self._monotonic()
        missing = [
            uscc
            for uscc in dict.fromkeys(usccs)
            if (cached := self._current.get(uscc)) is None or moment - cached[1] >= CACHE_SECONDS
        ]
        if not missing:
            return
        try:
            await self._ready()
            found = await self._read_current(missing)
        except Exception as error:  # drivers raise their own types (asyncpg does)
            log.warning("subject_keys_not_read_ahead", error_type=type(error).__name__)
            return
        self._remember(found, [uscc for uscc in missing if uscc in found])

    async def fresh_generation(self, uscc: str, since: dt.datetime) -> SubjectSealer:
        """A sealer under a key made after `since` (a withdrawal): the current one if it
        is that new, else a new generation."""
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(subject_keys)
                    .where(subject_keys.c.uscc == uscc)
                    .order_by(subject_keys.c.generation.desc())
                    .limit(1)
                )
            ).first()
        if row is not None and row.wrapped_key is not None and row.create_time > since:
            key = self._unwrap(uscc, row.generation, row.master_key_id, row.wrapped_key)
        else:
            made = await self._create(uscc, 1 if row is None else row.generation + 1)
            if made is None:
                raise PersonalDataDestroyed(f"the new key of {uscc} was destroyed meanwhile")
            key = made
        return self._remember({uscc: key}, [uscc])[uscc]

    async def open(self, sealed: SealedValue) -> str:
        """The plaintext; PersonalDataDestroyed when its key was destroyed (or the value
        was kept destroyed), VaultError when it does not open."""
        if sealed.destroyed:
            raise PersonalDataDestroyed("the value was destroyed")
        reference = reference_of(sealed.ciphertext)
        if reference is None:
            return self._vault.open(sealed)
        uscc, generation = reference
        await self._ready()
        key = await self._key(uscc, generation)
        if key is None:
            raise PersonalDataDestroyed(f"the key of {uscc} generation {generation} was destroyed")
        blob = sealed.ciphertext
        start = 2 + blob[1]
        nonce = blob[start : start + NONCE_BYTES]
        aad = sealed.kind.value.encode() + b"\x00" + key.reference
        try:
            return AESGCM(key.key).decrypt(nonce, blob[start + NONCE_BYTES :], aad).decode()
        except Exception as exc:
            raise VaultError("ciphertext failed authentication") from exc

    async def destroy(self, uscc: str) -> int:
        """Destroy every key of the enterprise: the wrapped keys are overwritten and the
        rows kept as the record of it. Returns how many were destroyed. Safe to repeat."""
        statement = (
            update(subject_keys)
            .where(subject_keys.c.uscc == uscc, subject_keys.c.wrapped_key.is_not(None))
            .values(wrapped_key=None, destroy_time=self._now())
        )
        async with write_transaction(self._engine) as connection:
            destroyed = (await connection.execute(statement)).rowcount
            held = await connection.scalar(
                select(func.count()).select_from(subject_keys).where(subject_keys.c.uscc == uscc)
            )
            if not held:
                # Never had a key: the tombstone alone, so nothing is sealed for it later.
                await connection.execute(
                    subject_keys.insert().values(
                        uscc=uscc,
                        generation=1,
                        master_key_id="",
                        wrapped_key=None,
                        create_time=self._now(),
                        destroy_time=self._now(),
                    )
                )
        self._current[uscc] = (SubjectSealer(None, self._vault), self._monotonic())
        self._current.move_to_end(uscc)
        if destroyed:
            await self._compact()
        log.info("subject_keys_destroyed", uscc=uscc, generations=destroyed)
        return int(destroyed)

    async def destroyed_since(self, uscc: str) -> dt.datetime | None:
        """When the enterprise's keys were last destroyed, if its latest generation is."""
        await self._ready()
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(subject_keys.c.wrapped_key, subject_keys.c.destroy_time)
                    .where(subject_keys.c.uscc == uscc)
                    .order_by(subject_keys.c.generation.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None or row.wrapped_key is not None else row.destroy_time

    async def _compact(self) -> None:
        """Leave no copy of a destroyed key in the store's free space: SQLite overwrites
        freed pages (secure_delete) and is vacuumed; PostgreSQL's table is rewritten."""
        async with self._engine.connect() as connection:
            if is_sqlite(self._engine):
                # On the driver's connection, outside any transaction (SQLAlchemy would
                # begin one); the WAL, which holds earlier page images, is emptied after.
                raw = await connection.get_raw_connection()
                sqlite = raw.driver_connection
                assert sqlite is not None
                for statement in ("VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                    await (await sqlite.execute(statement)).close()
                return
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            # FULL: the table is written anew and its old files removed, dead rows and all.
            await autocommit.execute(text("VACUUM FULL subject_keys"))

    async def _read_current(self, usccs: Iterable[str]) -> dict[str, SubjectKey | None]:
        latest = (
            select(subject_keys.c.uscc, func.max(subject_keys.c.generation).label("generation"))
            .where(subject_keys.c.uscc.in_(list(usccs)))
            .group_by(subject_keys.c.uscc)
            .subquery()
        )
        query = select(subject_keys).join(
            latest,
            (subject_keys.c.uscc == latest.c.uscc)
            & (subject_keys.c.generation == latest.c.generation),
        )
        async with read_connection(self._engine) as connection:
            rows = list(await connection.execute(query))
        found: dict[str, SubjectKey | None] = {}
        for row in rows:
            found[row.uscc] = (
                None
                if row.wrapped_key is None
                else self._unwrap(row.uscc, row.generation, row.master_key_id, row.wrapped_key)
            )
        return found

    async def _key(self, uscc: str, generation: int) -> SubjectKey | None:
        # Read from the store every time, never the cache: a key another process destroyed
        # opens nothing here from that moment (opening is rare: a provider's question, the
        # person's own download).
        async with read_connection(self._engine) as connection:
            row = (
                await connection.execute(
                    select(subject_keys).where(
                        subject_keys.c.uscc == uscc, subject_keys.c.generation == generation
                    )
                )
            ).first()
        if row is None or row.wrapped_key is None:
            return None
        return self._unwrap(uscc, generation, row.master_key_id, row.wrapped_key)

    async def _create_first(self, usccs: Sequence[str]) -> dict[str, SubjectKey | None]:
        """First keys for enterprises that had none, in one transaction (an import's batch
        makes a thousand at once); one by one if another process made some meanwhile."""
        keys = [SubjectKey(uscc, 1, os.urandom(32)) for uscc in usccs]
        rows = []
        now = self._now()
        for key in keys:
            master_id, wrapped = self._wrap(key)
            rows.append(
                {
                    "uscc": key.uscc,
                    "generation": 1,
                    "master_key_id": master_id,
                    "wrapped_key": wrapped,
                    "create_time": now,
                }
            )
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(subject_keys.insert(), rows)
        except IntegrityError:
            return {uscc: await self._create(uscc, 1) for uscc in usccs}
        return {key.uscc: key for key in keys}

    async def _create(self, uscc: str, generation: int) -> SubjectKey | None:
        """The new key; if another process made this generation first, its key, or None
        when that one is destroyed already."""
        key = SubjectKey(uscc, generation, os.urandom(32))
        master_id, wrapped = self._wrap(key)
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(
                    subject_keys.insert().values(
                        uscc=uscc,
                        generation=generation,
                        master_key_id=master_id,
                        wrapped_key=wrapped,
                        create_time=self._now(),
                    )
                )
        except IntegrityError:
            return await self._key(uscc, generation)
        return key

    def _wrap(self, key: SubjectKey) -> tuple[str, bytes]:
        master_id, master = self._vault.active_key()
        nonce = os.urandom(NONCE_BYTES)
        return master_id, nonce + AESGCM(master).encrypt(nonce, key.key, _wrap_aad(key))

    def _unwrap(self, uscc: str, generation: int, master_id: str, wrapped: bytes) -> SubjectKey:
        master = self._vault.key(master_id)
        probe = SubjectKey(uscc, generation, b"")
        try:
            raw = AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(probe)
            )
        except Exception as exc:
            raise VaultError(f"the key of {uscc} generation {generation} does not open") from exc
        return SubjectKey(uscc, generation, raw)

    def _remember(
        self, found: Mapping[str, SubjectKey | None], usccs: Iterable[str]
    ) -> dict[str, SubjectSealer]:
        moment = self._monotonic()
        sealers = {}
        for uscc in usccs:
            sealers[uscc] = SubjectSealer(found[uscc], self._vault)
            self._current[uscc] = (sealers[uscc], moment)
            self._current.move_to_end(uscc)
        while len(self._current) > CACHE_MOST:
            self._current.popitem(last=False)
        return sealers


def _wrap_aad(key: SubjectKey) -> bytes:
    return b"integrity/subject-key\x00" + key.reference
