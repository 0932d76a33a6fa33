"""The disclosure ledger as a verifiable log: checkpoints, proofs, and what the audit catches.

On both backends: checkpoints sign the RFC 9162 root of the entries, every inclusion and
consistency proof the log hands out verifies with the RFC's own algorithms, and an edited
entry, a rewritten chain or a cut-off tail shows in `integrity-ops ledger verify`, even
when whoever did it also rewrote the hash chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from service.adapters.storage.ledger import entry_from_row
from service.adapters.storage.tables import disclosure_ledger, ledger_checkpoints
from service.app.ports import LedgerTampered
from service.bootstrap import Application, bootstrap
from service.domain import merkle
from service.domain.checkpoint import NoteSigner, open_checkpoint
from service.domain.disclosure import GENESIS, DisclosureEntry, chain_hash
from service.domain.errors import InvalidArgument
from service.settings import Settings
from tests.builders import disclosure_entry
from tests.clock import TestClock
from tests.conftest import OpsCommand, _clean

SIGNER = NoteSigner.generate("integrity.test/disclosures")


def entry(n: int) -> DisclosureEntry:
    return disclosure_entry(
        recipient_id=f"platform-{n % 3}",
        disclose_time=dt.datetime(2026, 11, 23, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
    )


@pytest.fixture
async def signing_app(settings: Settings, clock: TestClock) -> AsyncIterator[Application]:
    application = await bootstrap(dataclasses.replace(settings, ledger_signer=SIGNER), clock=clock)
    await _clean(application)
    yield application
    await application.close()


@pytest.fixture
def signing_ops(ops_command: OpsCommand, tmp_path: Path) -> OpsCommand:
    key = tmp_path / "ledger.key"
    key.write_text(f"{SIGNER}\n")
    return OpsCommand({**ops_command.env, "INTEGRITY_LEDGER_KEY_FILE": str(key)}, ops_command.clock)


async def _record(app: Application, numbers: range) -> None:
    for n in numbers:
        await app.ledger.record(entry(n))


def _leaves(numbers: range) -> list[bytes]:
    return [merkle.leaf_hash(entry(n).canonical()) for n in numbers]


async def test_checkpoints_sign_the_rfc_root_and_every_proof_verifies(
    signing_app: Application, clock: TestClock
) -> None:
    log = signing_app.ledger_log
    await _record(signing_app, range(13))
    before = clock.now()
    first = await log.publish()
    assert first.checkpoint.size == 13
    assert first.checkpoint.root == merkle.root_of(_leaves(range(13)))
    assert before <= first.publish_time <= clock.now()
    assert open_checkpoint(first.note, SIGNER.verifier) == first.checkpoint
    # Nothing appended since: the same checkpoint, nothing new signed.
    assert await log.publish() == first

    await _record(signing_app, range(13, 20))
    second = await log.publish()
    assert second.checkpoint.size == 20
    assert second.checkpoint.root == merkle.root_of(_leaves(range(20)))

    tree = signing_app.ledger_log._tree
    for size, root in ((13, first.checkpoint.root), (20, second.checkpoint.root)):
        proofs = await tree.inclusion_proofs(range(1, 21), size)
        assert sorted(proofs) == list(range(1, size + 1))  # none beyond the checkpoint
        leaves = _leaves(range(20))
        for sequence, path in proofs.items():
            assert merkle.verify_inclusion(sequence - 1, size, leaves[sequence - 1], path, root)
    proof = await log.consistency(13, 20)
    assert proof.first == first and proof.second == second
    assert merkle.verify_consistency(
        13, 20, first.checkpoint.root, second.checkpoint.root, proof.proof
    )
    for earlier in range(0, 21):
        later = await log.consistency(earlier, 0)  # 0: the latest
        root = merkle.root_of(_leaves(range(earlier)))
        assert merkle.verify_consistency(earlier, 20, root, second.checkpoint.root, later.proof)
    with pytest.raises(InvalidArgument) as refused:
        await log.consistency(21, 20)
    assert refused.value.violations[0].reason == "TREE_SIZE_BEYOND_CHECKPOINT"

    audit = await log.audit()
    assert audit.intact and audit.entries == 20 and audit.checkpoints == 2


async def _rewrite_from(app: Application, sequence: int, purpose: str) -> None:
    """What someone with write access to the database could do: change an entry and
    recompute the hash chain from it on, so that the chain alone looks intact."""
    async with app.engine.begin() as connection:
        rows = list(
            await connection.execute(
                select(disclosure_ledger).order_by(disclosure_ledger.c.sequence)
            )
        )
        previous = GENESIS
        for row in rows:
            if row.sequence >= sequence:
                values = {"purpose": purpose} if row.sequence == sequence else {}
                changed = dataclasses.replace(entry_from_row(row).entry, **values)
                entry_hash = chain_hash(previous, changed)
                await connection.execute(
                    update(disclosure_ledger)
                    .where(disclosure_ledger.c.sequence == row.sequence)
                    .values(**values, previous_hash=previous, entry_hash=entry_hash)
                )
                previous = entry_hash
            else:
                previous = bytes(row.entry_hash)


async def _cut_after(app: Application, sequence: int, *, checkpoints_too: bool = False) -> None:
    async with app.engine.begin() as connection:
        await connection.execute(
            delete(disclosure_ledger).where(disclosure_ledger.c.sequence > sequence)
        )
        if checkpoints_too:
            await connection.execute(delete(ledger_checkpoints))


async def test_a_rewritten_past_shows_though_the_chain_was_recomputed(
    signing_app: Application, signing_ops: OpsCommand
) -> None:
    await _record(signing_app, range(10))
    await signing_app.ledger_log.publish()
    intact = await signing_ops.run("ledger", "verify")
    assert intact.exit_code == 0, intact.output
    assert "ledger intact: 10 entries; 1 checkpoint holds" in intact.output

    await _rewrite_from(signing_app, 4, "marketing")
    assert (await signing_app.disclosures.verify()).first_broken is None  # the chain is fooled
    rewritten = await signing_ops.run("ledger", "verify")
    assert rewritten.exit_code == 1
    assert "REWRITTEN: the first 10 entries no longer hash to the root checkpoint 10" in (
        rewritten.output
    )


async def test_a_cut_off_tail_shows_against_a_checkpoint_kept_elsewhere(
    signing_app: Application, signing_ops: OpsCommand, tmp_path: Path
) -> None:
    await _record(signing_app, range(12))
    published = await signing_ops.run("ledger", "checkpoint")
    assert published.exit_code == 0, published.output
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(published.output)
    assert open_checkpoint(published.output, SIGNER.verifier).size == 12
    # The tail and the checkpoints that covered it, gone: the database alone looks whole.
    await _cut_after(signing_app, 7, checkpoints_too=True)
    alone = await signing_ops.run("ledger", "verify")
    assert alone.exit_code == 0 and "ledger intact: 7 entries" in alone.output
    against = await signing_ops.run("ledger", "verify", "--checkpoint", str(kept))
    assert against.exit_code == 1
    assert "TRUNCATED: the trusted checkpoint 12 covers 12 entries, the ledger holds 7" in (
        against.output
    )
    # Nor does the log sign again over the removed checkpoints.
    with pytest.raises(LedgerTampered, match="later checkpoints were removed"):
        await signing_app.ledger_log.publish()


async def test_a_cut_off_tail_shows_against_the_logs_own_checkpoints(
    signing_app: Application, signing_ops: OpsCommand
) -> None:
    await _record(signing_app, range(12))
    await signing_app.ledger_log.publish()
    await _cut_after(signing_app, 9)
    truncated = await signing_ops.run("ledger", "verify")
    assert truncated.exit_code == 1
    assert "TRUNCATED: checkpoint 12 covers 12 entries, the ledger holds 9" in truncated.output


async def test_a_checkpoint_altered_in_the_database_is_not_the_logs(
    signing_app: Application, signing_ops: OpsCommand
) -> None:
    await _record(signing_app, range(5))
    await signing_app.ledger_log.publish()
    async with signing_app.engine.begin() as connection:
        await connection.execute(update(ledger_checkpoints).values(root_hash=bytes(32)))
    audit = await signing_app.ledger_log.audit()
    assert "checkpoint 5 is not one the log's key signed" in audit.problems
    with pytest.raises(LedgerTampered):
        await signing_app.ledger_log.publish()


async def test_the_publisher_refuses_to_sign_over_an_edited_frontier(
    signing_app: Application,
) -> None:
    await _record(signing_app, range(5))  # 5 = 4 + 1: entry 5 is a part of the frontier
    await signing_app.ledger_log.publish()
    await _rewrite_from(signing_app, 5, "marketing")
    await _record(signing_app, range(5, 8))
    with pytest.raises(LedgerTampered, match="not the one checkpoint 5 signed"):
        await signing_app.ledger_log.publish()


async def test_the_checkpoint_command_without_a_key_says_what_is_missing(
    app: Application, ops_command: OpsCommand
) -> None:
    await _record(app, range(2))
    result = await ops_command.run("ledger", "checkpoint")
    assert result.exit_code != 0
    assert "INTEGRITY_LEDGER_KEY_FILE" in result.output


async def test_keygen_writes_a_private_key_and_prints_its_verifier(
    ops_command: OpsCommand, tmp_path: Path
) -> None:
    out = tmp_path / "keys" / "ledger.key"
    result = ops_command(
        "ledger", "keygen", "--name", "integrity.example/disclosures", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    signer = NoteSigner.parse(out.read_text())
    assert f"verifier key: {signer.verifier}" in result.output
    # The private key is not printed: its encoded seed is the fifth field (the base64 of
    # it may hold "+" itself, so it is everything after the fourth).
    assert str(signer).split("+", 4)[-1] not in result.output
    again = ops_command("ledger", "keygen", "--name", "x.example/log", "--out", str(out))
    assert again.exit_code != 0 and "refusing to overwrite" in again.output


async def test_checkpoints_are_published_at_intervals_as_the_ledger_grows(
    settings: Settings, clock: TestClock
) -> None:
    signing = dataclasses.replace(
        settings, ledger_signer=SIGNER, ledger_checkpoint_interval_seconds=0.01
    )
    application = await bootstrap(signing, clock=clock)
    await _clean(application)
    try:
        await application.checkpoints.start()
        for size in (3, 6):
            await _record(application, range(size - 3, size))
            # A round that began before the entries were recorded may end first: the one
            # after it began after them.
            await application.checkpoints.wait_round()
            await application.checkpoints.wait_round()
            latest = await application.ledger_log.latest()
            assert latest is not None and latest.checkpoint.size == size
    finally:
        await application.close()


async def test_an_empty_log_has_no_checkpoint_to_sign(
    signing_app: Application, signing_ops: OpsCommand
) -> None:
    result = await signing_ops.run("ledger", "checkpoint")
    assert result.exit_code != 0 and "the disclosure log is empty" in result.output
    assert await signing_app.ledger_log.latest() is None


def test_the_verifier_key_command_prints_the_public_half_only(signing_ops: OpsCommand) -> None:
    result = signing_ops("ledger", "verifier-key")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(SIGNER.verifier)
    assert "PRIVATE" not in result.output


def test_the_verifier_key_command_without_a_key_says_so(ops_command: OpsCommand) -> None:
    result = ops_command("ledger", "verifier-key")
    assert result.exit_code != 0 and "INTEGRITY_LEDGER_KEY_FILE" in result.output
