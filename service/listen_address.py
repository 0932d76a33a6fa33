"""The gRPC listen address: what it names, whether it is loopback, whether it is free."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from dataclasses import dataclass

# grpc's own address forms for local sockets: nothing off the machine can reach them.
LOCAL_SOCKET_SCHEMES = ("unix:", "unix-abstract:")


@dataclass(frozen=True)
class ListenAddress:
    host: str
    """A name or an IP address; empty for every interface."""
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        """host:port or [ipv6]:port; ValueError for anything else."""
        host, colon, port_text = text.rpartition(":")
        if not colon or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"{text} is not host:port")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise ValueError(f"{text} is not host:port (write IPv6 addresses as [address]:port)")
        return cls(host, int(port_text))

    @property
    def is_loopback(self) -> bool:
        """Only this machine can connect: 127.0.0.0/8, ::1 or localhost."""
        if self.host.lower() == "localhost":
            return True
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            return False  # another name may resolve to anything
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback


def is_local(text: str) -> bool:
    """Whether nothing off this machine can reach the address (loopback or a local socket)."""
    if text.startswith(LOCAL_SOCKET_SCHEMES):
        return True
    try:
        return ListenAddress.parse(text).is_loopback
    except ValueError:
        return False


def bind_problem(text: str, *, reuse_port: bool) -> str | None:
    """Why grpc could not bind the address, asked of the system before grpc tries.

    grpc reports a failed bind only as "Failed to bind" after logging the reason itself;
    binding a probe socket the way grpc will (SO_REUSEADDR, SO_REUSEPORT only when asked
    for) gives the reason in one place. A port taken between the probe and grpc's bind is
    still caught, by grpc."""
    if text.startswith(LOCAL_SOCKET_SCHEMES):
        return None
    address = ListenAddress.parse(text)
    if address.port == 0:
        return None
    try:
        candidates = socket.getaddrinfo(
            address.host or None, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        return f"{address.host} does not resolve ({error.strerror})"
    failures: list[str] = []
    for family, kind, protocol, _name, socket_address in candidates:
        try:
            with contextlib.closing(socket.socket(family, kind, protocol)) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port and hasattr(socket, "SO_REUSEPORT"):
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                probe.bind(socket_address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return error.strerror or "address in use"
            # Like grpc, serve on the addresses that can be had: "localhost" on a host
            # without IPv6 is 127.0.0.1 alone.
            failures.append(error.strerror or type(error).__name__)
    return failures[0] if len(failures) == len(candidates) else None


def bound_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: any free one), for an HTTP server that is
    handed its socket, so that it can say which port it has; OSError if it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener
