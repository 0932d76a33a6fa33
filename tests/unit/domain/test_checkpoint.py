"""Signed notes and checkpoints against the reference implementation's published example.

The key pair, text and signature are golang.org/x/mod/sumdb/note's own test vector:
Ed25519 is deterministic (RFC 8032), so a note we sign with that key must be the
published one byte for byte, and then every verifier of that ecosystem reads ours.
"""

from __future__ import annotations

import pytest

from service.domain.checkpoint import (
    Checkpoint,
    NoteInvalid,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    open_note,
)

VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIGNATURE_LINE = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
NOTE = TEXT + "\n" + SIGNATURE_LINE


def test_signing_reproduces_the_reference_note() -> None:
    signer = NoteSigner.parse(SIGNER)
    assert str(signer.verifier) == VERIFIER
    assert str(signer) == SIGNER
    assert signer.sign(TEXT) == NOTE


def test_the_reference_note_opens_and_an_altered_one_does_not() -> None:
    verifier = NoteVerifier.parse(VERIFIER)
    assert open_note(NOTE, verifier) == TEXT
    with pytest.raises(NoteInvalid, match="does not verify"):
        open_note(NOTE.replace("cryptography", "cryptographY"), verifier)
    with pytest.raises(NoteInvalid):
        open_note(TEXT, verifier)


def test_other_keys_signatures_are_ignored_but_one_is_needed() -> None:
    other = NoteSigner.generate("someone.else/log")
    verifier = NoteVerifier.parse(VERIFIER)
    cosigned = NOTE + other.sign(TEXT).split("\n\n", 1)[1]
    assert open_note(cosigned, verifier) == TEXT
    with pytest.raises(NoteInvalid, match="not signed by PeterNeumann"):
        open_note(other.sign(TEXT), verifier)


@pytest.mark.parametrize(
    "key",
    [
        VERIFIER.replace("c74f20a3", "c74f20a4"),  # an id that is not the key's
        VERIFIER.replace("PeterNeumann", "Peter Neumann"),
        VERIFIER[:-4],
        "PeterNeumann+c74f20a3",
        "",
    ],
)
def test_malformed_verifier_keys_are_refused(key: str) -> None:
    with pytest.raises(NoteInvalid):
        NoteVerifier.parse(key)


def test_a_signer_key_whose_id_does_not_match_is_refused() -> None:
    with pytest.raises(NoteInvalid, match="id does not match"):
        NoteSigner.parse(SIGNER.replace("c74f20a3", "00000000"))


def test_checkpoints_round_trip_and_are_read_strictly() -> None:
    signer = NoteSigner.generate("integrity.test/disclosures")
    checkpoint = Checkpoint("integrity.test/disclosures", 20852163, bytes(range(32)))
    assert checkpoint.text() == (
        "integrity.test/disclosures\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    )
    assert open_checkpoint(signer.sign(checkpoint.text()), signer.verifier) == checkpoint
    for text in (
        "integrity.test/disclosures\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "integrity.test/disclosures\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "integrity.test/disclosures\n12\nAAEC\n",
        "integrity.test/disclosures\n12\n",
    ):
        with pytest.raises(NoteInvalid):
            Checkpoint.parse(text)


def test_a_checkpoint_of_another_log_is_refused() -> None:
    signer = NoteSigner.generate("integrity.test/disclosures")
    other_origin = Checkpoint("elsewhere/log", 1, bytes(32))
    with pytest.raises(NoteInvalid, match="another log"):
        open_checkpoint(signer.sign(other_origin.text()), signer.verifier)
