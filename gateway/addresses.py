"""The client address of an anonymous visitor, through the proxies the gateway trusts.

An anonymous visitor is known to the service by its address (its rate limits are per
address), so the address must be the visitor's and not one it claims. X-Forwarded-For is
read only when the connection comes from a configured trusted proxy, and then from the
right: each trusted proxy appended the address it saw, so the first address from the right
that is not a trusted proxy is the client. Anything further left was written by the client
and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """Addresses or CIDR blocks; ValueError naming the first that is neither."""
    networks = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an address or a CIDR block") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The visitor's address: the peer's, unless the peer is a trusted proxy; then the
    right-most forwarded address that is not one (the left-most, if all are)."""
    address = _address(peer or "")
    if address is None:
        return "unknown"
    if not _trusted(address, proxies):
        return str(address)
    hops = [part for header in forwarded_for for part in header.split(",")]
    for hop in reversed(hops):
        forwarded = _address(hop)
        if forwarded is None:
            return str(address)  # a hop that does not read: trust stops at the proxy
        address = forwarded
        if not _trusted(address, proxies):
            return str(address)
    return str(address)
