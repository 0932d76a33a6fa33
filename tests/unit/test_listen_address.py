from __future__ import annotations

import socket

import pytest

from service.listen_address import ListenAddress, bind_problem


def test_addresses_parse_into_host_and_port() -> None:
    assert ListenAddress.parse("127.0.0.1:50051") == ListenAddress("127.0.0.1", 50051)
    assert ListenAddress.parse("[::1]:0") == ListenAddress("::1", 0)
    assert ListenAddress.parse(":50051") == ListenAddress("", 50051)
    for text in ("localhost", "::1:50051", "127.0.0.1:http", "127.0.0.1:70000"):
        with pytest.raises(ValueError):
            ListenAddress.parse(text)


def test_a_port_another_socket_listens_on_is_a_problem_unless_both_share_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        assert bind_problem(address, reuse_port=False) == "Address already in use"
        # The holder did not ask to share the port, so sharing is refused as well.
        assert bind_problem(address, reuse_port=True) == "Address already in use"
    with socket.socket() as shared:
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        shared.bind(("127.0.0.1", 0))
        shared.listen()
        address = f"127.0.0.1:{shared.getsockname()[1]}"
        assert bind_problem(address, reuse_port=False) == "Address already in use"
        assert bind_problem(address, reuse_port=True) is None


def test_nothing_to_probe_for_a_port_the_system_picks_or_a_local_socket() -> None:
    assert bind_problem("127.0.0.1:0", reuse_port=False) is None
    assert bind_problem("unix:/run/integrity.sock", reuse_port=False) is None


def test_an_address_this_host_does_not_have_is_a_problem() -> None:
    # 192.0.2.0/24 is reserved for documentation: no host has it.
    assert bind_problem("192.0.2.1:50051", reuse_port=False) == "Cannot assign requested address"
