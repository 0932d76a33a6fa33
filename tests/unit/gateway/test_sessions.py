"""Session cookies: only ours open, only until they expire; CSRF tokens are per session."""

from __future__ import annotations

import datetime as dt

from gateway.identity import EndUser
from gateway.sessions import SessionCodec, same_origin, tokens_match

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
MERCHANT = EndUser("merchant", "demo:owner", "91330106MA27XXXXXX")


def test_a_session_round_trips_until_it_expires() -> None:
    codec = SessionCodec(b"k" * 32)
    session = codec.new(MERCHANT, NOW)
    cookie = codec.encode(session)
    opened = codec.decode(cookie, NOW + dt.timedelta(hours=1))
    assert opened is not None and opened.user == MERCHANT
    assert codec.decode(cookie, NOW + dt.timedelta(hours=2, seconds=1)) is None


def test_a_cookie_of_another_key_or_altered_does_not_open() -> None:
    cookie = SessionCodec(b"k" * 32).encode(SessionCodec(b"k" * 32).new(MERCHANT, NOW))
    assert SessionCodec(b"o" * 32).decode(cookie, NOW) is None
    assert SessionCodec(b"k" * 32).decode(cookie[:-2] + "xx", NOW) is None
    assert SessionCodec(b"k" * 32).decode("", NOW) is None


def test_csrf_tokens_differ_per_session_and_compare_safely() -> None:
    codec = SessionCodec(b"k" * 32)
    first, second = codec.new(MERCHANT, NOW), codec.new(MERCHANT, NOW)
    assert first.csrf_token(codec.key) != second.csrf_token(codec.key)
    assert tokens_match(first.csrf_token(codec.key), first.csrf_token(codec.key))
    assert not tokens_match(first.csrf_token(codec.key), "")
    assert not tokens_match(None, None)


def test_a_post_from_another_site_is_not_same_origin() -> None:
    assert same_origin({"sec-fetch-site": "same-origin"}, "https")
    assert not same_origin({"sec-fetch-site": "cross-site", "origin": "null"}, "https")
    assert not same_origin({"origin": "https://evil.example", "host": "ours.example"}, "https")
    assert same_origin({"origin": "https://ours.example", "host": "ours.example"}, "https")
    assert same_origin({"origin": "null"}, "https")  # no-referrer forms: the token decides
