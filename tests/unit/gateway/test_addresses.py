"""The anonymous visitor's address: forwarded headers count only through trusted proxies."""

from __future__ import annotations

import pytest

from gateway.addresses import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", [], "203.0.113.5"),
        # Not a proxy of ours: whatever it forwards is its own claim.
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # The client wrote the left part; our proxy appended what it saw.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Two proxies of ours in a row: the first untrusted address from the right.
        ("10.1.2.3", ["198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], "198.51.100.1"),
        # Every hop ours: the left-most.
        ("10.1.2.3", ["10.4.4.4"], "10.4.4.4"),
        # A hop that does not read: trust stops at the proxy.
        ("10.1.2.3", ["garbage"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1:4711"], "198.51.100.1"),
        ("2001:db8::1", ["[2001:db9::7]:443"], "2001:db9::7"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an address"):
        parse_networks(["10.0.0.0/8", "10.0.0.300"])
