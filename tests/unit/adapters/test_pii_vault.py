from __future__ import annotations

import dataclasses
import secrets

import pytest

from service.adapters.pii_vault import AesGcmVault, VaultError
from service.domain.sealed import PiiKind

ID = "11010519491231002X"


def vault(active: str = "k1", **keys: bytes) -> AesGcmVault:
    return AesGcmVault(keys or {"k1": bytes(32)}, active, b"d" * 32)


def test_seal_opens_to_the_plaintext_and_masks() -> None:
    v = vault()
    sealed = v.seal(PiiKind.ID_NUMBER, ID)
    assert v.open(sealed) == ID
    assert sealed.masked == "1****************X"
    assert ID.encode() not in sealed.ciphertext
    assert ID not in repr(sealed)


def test_each_seal_uses_a_fresh_nonce_but_the_same_digest() -> None:
    v = vault()
    first, second = v.seal(PiiKind.ID_NUMBER, ID), v.seal(PiiKind.ID_NUMBER, ID)
    assert first.ciphertext != second.ciphertext
    assert first.digest == second.digest
    assert first.same_as(second)


def test_digests_normalise_names_and_separate_kinds() -> None:
    v = vault()
    assert v.digest(PiiKind.PERSON_NAME, "王 小明") == v.digest(PiiKind.PERSON_NAME, "王小明")
    assert v.digest(PiiKind.ID_NUMBER, "110105194912310021") != v.digest(
        PiiKind.PERSON_NAME, "110105194912310021"
    )


def test_digest_depends_on_the_key() -> None:
    other = AesGcmVault({"k1": bytes(32)}, "k1", b"e" * 32)
    assert vault().digest(PiiKind.ID_NUMBER, ID) != other.digest(PiiKind.ID_NUMBER, ID)


def test_rotation_opens_old_values_and_seals_with_the_new_key() -> None:
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    before = AesGcmVault({"k1": old_key}, "k1", b"d" * 32).seal(PiiKind.ID_NUMBER, ID)
    rotated = AesGcmVault({"k1": old_key, "k2": new_key}, "k2", b"d" * 32)
    assert rotated.open(before) == ID
    after = rotated.seal(PiiKind.ID_NUMBER, ID)
    assert AesGcmVault.key_id_of(after.ciphertext) == "k2"
    with pytest.raises(VaultError):
        AesGcmVault({"k2": new_key}, "k2", b"d" * 32).open(before)


def test_tampering_and_kind_swaps_are_detected() -> None:
    v = vault()
    sealed = v.seal(PiiKind.ID_NUMBER, ID)
    flipped = bytearray(sealed.ciphertext)
    flipped[-1] ^= 1
    with pytest.raises(VaultError):
        v.open(dataclasses.replace(sealed, ciphertext=bytes(flipped)))
    with pytest.raises(VaultError):
        v.open(dataclasses.replace(sealed, kind=PiiKind.PERSON_NAME))


@pytest.mark.parametrize(
    ("keys", "active", "digest_key"),
    [
        ({"k1": bytes(16)}, "k1", b"d" * 32),
        ({"k1": bytes(32)}, "k2", b"d" * 32),
        ({"k1": bytes(32)}, "k1", b"short"),
    ],
)
def test_bad_keys_are_refused(keys: dict[str, bytes], active: str, digest_key: bytes) -> None:
    with pytest.raises(ValueError):
        AesGcmVault(keys, active, digest_key)
