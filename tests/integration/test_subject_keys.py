"""Per-enterprise keys for legal representatives' data, in a key store of their own, on
both backends: what they seal opens until they are destroyed, and never after; what is
sealed for an enterprise that withdrew is kept destroyed until a fresh authorisation opens
a new generation; a destroyed key leaves no copy in the SQLite key store's file."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from service.adapters import subject_keys as subject_keys_module
from service.adapters.subject_keys import PersonalDataDestroyed, SubjectKeyring, subject_keys
from service.bootstrap import Application
from service.domain.sealed import PiiKind

USCC = "91330106MA27XXXXXX"
OTHER = "91110000802100433B"


async def test_values_open_until_the_enterprises_keys_are_destroyed(app: Application) -> None:
    keyring = app.subject_keys
    sealer = await keyring.sealer(USCC)
    name = sealer.seal(PiiKind.PERSON_NAME, "张三")
    number = sealer.seal(PiiKind.ID_NUMBER, "11010519491231002X")
    assert name.masked == "张*" and number.masked == "1****************X"
    assert await keyring.open(name) == "张三"
    assert await keyring.open(number) == "11010519491231002X"
    # Digests compare within the enterprise, normalised, and never across enterprises.
    again = (await keyring.sealer(USCC)).seal(PiiKind.ID_NUMBER, "11010519491231002x")
    assert again.same_as(number)
    other = (await keyring.sealer(OTHER)).seal(PiiKind.ID_NUMBER, "11010519491231002X")
    assert not other.same_as(number)

    assert await keyring.destroy(USCC) == 1
    for sealed in (name, number):
        with pytest.raises(PersonalDataDestroyed):
            await keyring.open(sealed)
    assert await keyring.open(other) == "11010519491231002X"  # another enterprise's stays
    assert await keyring.destroy(USCC) == 0  # safe to repeat


async def test_a_withdrawn_enterprise_keeps_new_values_destroyed_until_a_fresh_generation(
    app: Application,
) -> None:
    keyring = app.subject_keys
    await keyring.sealer(USCC)
    await keyring.destroy(USCC)
    withdrawn_at = await keyring.destroyed_since(USCC)
    assert withdrawn_at is not None
    withheld = (await keyring.sealer(USCC)).seal(PiiKind.PERSON_NAME, "张三")
    assert withheld.destroyed and not withheld.same_as(withheld)

    app.clock.set(withdrawn_at + dt.timedelta(minutes=5))  # type: ignore[attr-defined]
    fresh = await keyring.fresh_generation(USCC, withdrawn_at)
    sealed = fresh.seal(PiiKind.PERSON_NAME, "李四")
    assert await keyring.open(sealed) == "李四"
    assert await keyring.destroyed_since(USCC) is None
    # Sealing resumes under the new generation, for everything sealed for the enterprise.
    later = (await keyring.sealer(USCC)).seal(PiiKind.PERSON_NAME, "李四")
    assert later.same_as(sealed)


@contextlib.contextmanager
def selects_on(keyring: SubjectKeyring) -> Iterator[list[str]]:
    """The SELECT statements sent to the key store meanwhile."""
    statements: list[str] = []

    def count(*arguments: object) -> None:
        if str(arguments[2]).startswith("SELECT"):
            statements.append(str(arguments[2]))

    engine = keyring.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_chunk_read_ahead_serves_its_sealers_without_a_query_each(
    app: Application,
) -> None:
    """A batch's chunk reads its enterprises' keys in one query; sealing an answer for one
    of them then reads nothing. An enterprise with no key is not given one by the hint."""
    known = [f"9133010{n:02d}MA27XXXXX" for n in range(5)]
    sealed = {
        uscc: sealer.seal(PiiKind.PERSON_NAME, "张三")
        for uscc, sealer in (await app.subject_keys.sealers(known)).items()
    }
    # Another process's keyring (nothing cached), on the same store.
    keyring = SubjectKeyring(app.subject_keys.engine, app.vault, app.clock.now)
    await keyring.create_schema()
    with selects_on(keyring) as statements:
        await keyring.read_ahead([*known, USCC])
    assert len(statements) == 1
    with selects_on(keyring) as statements:
        for uscc in known:
            again = (await keyring.sealer(uscc)).seal(PiiKind.PERSON_NAME, "张三")
            assert again.same_as(sealed[uscc])  # the enterprise's own key, read ahead
    assert statements == []
    async with keyring.engine.connect() as connection:
        made = await connection.scalar(
            select(func.count()).select_from(subject_keys).where(subject_keys.c.uscc == USCC)
        )
    assert made == 0
    assert await keyring.destroyed_since(USCC) is None
    await keyring.sealer(USCC)  # sealing itself makes the first key, as before


async def test_the_sealing_cache_keeps_the_most_recently_read_enterprises(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subject_keys_module, "CACHE_MOST", 3)
    usccs = [f"9133010{n:02d}MA27XXXXX" for n in range(4)]
    await app.subject_keys.sealers(usccs)
    keyring = SubjectKeyring(app.subject_keys.engine, app.vault, app.clock.now)
    await keyring.read_ahead(usccs)
    with selects_on(keyring) as statements:
        for uscc in usccs[1:]:
            await keyring.sealer(uscc)
    assert statements == []
    with selects_on(keyring) as statements:
        await keyring.sealer(usccs[0])  # the least recently read: dropped, read again
    assert statements != []


async def _filenode(app: Application) -> object:
    async with app.subject_keys.engine.connect() as connection:
        return await connection.scalar(text("SELECT pg_relation_filenode('subject_keys')"))


async def test_a_destroyed_key_leaves_no_copy_in_the_key_store(app: Application) -> None:
    """SQLite: not in the file's bytes, the WAL's included. PostgreSQL: the table is written
    anew (a new file), so no dead row version of it is left on disk."""
    keyring = app.subject_keys
    await keyring.sealers([f"9133010{n:02d}MA27XXXXX" for n in range(40)])
    await keyring.sealer(USCC)
    async with keyring.engine.connect() as connection:
        wrapped = await connection.scalar(
            select(subject_keys.c.wrapped_key).where(subject_keys.c.uscc == USCC)
        )
    assert wrapped
    if app.engine.dialect.name == "postgresql":
        before = await _filenode(app)
        await keyring.destroy(USCC)
        assert await _filenode(app) != before
        return
    database = make_url(str(keyring.engine.url)).database
    assert database

    def held() -> bytes:
        files = [Path(database), Path(f"{database}-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())

    assert wrapped in held()  # the check below can fail
    await keyring.destroy(USCC)
    assert wrapped not in held()
