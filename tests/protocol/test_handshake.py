"""What a handshake's scope says about the client; proxy headers only from trusted proxies."""

from __future__ import annotations

import base64

from apps.protocol.handshake import credentials_from_scope


def scope(peer: str, headers: dict[str, str], scheme: str = "ws") -> dict:
    return {
        "client": (peer, 50000),
        "scheme": scheme,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }


PROXIED = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}


def test_without_trusted_proxies_proxy_headers_are_ignored():
    found = credentials_from_scope(scope("10.0.0.5", PROXIED), trusted_proxies=[])
    assert found.peer_ip == "10.0.0.5"
    assert not found.tls


def test_a_proxy_inside_a_trusted_network_is_believed():
    found = credentials_from_scope(
        scope("10.0.0.5", PROXIED), trusted_proxies=["not a network", "10.0.0.0/24"]
    )
    assert found.peer_ip == "203.0.113.9"
    assert found.tls


def test_a_proxy_outside_the_trusted_networks_is_not():
    for proxies in (["10.0.1.0/24"], ["::1"], ["not a network"]):
        found = credentials_from_scope(scope("10.0.0.5", PROXIED), trusted_proxies=proxies)
        assert (found.peer_ip, found.tls) == ("10.0.0.5", False), proxies


def test_it_reads_basic_credentials():
    token = base64.b64encode(b"CP-1:s3cret:with-colon").decode()
    found = credentials_from_scope(
        scope("10.0.0.5", {"authorization": f"Basic {token}"}), trusted_proxies=[]
    )
    assert (found.basic_user, found.basic_password) == ("CP-1", "s3cret:with-colon")
    assert not found.malformed_basic


def test_the_client_is_the_last_forwarded_address_no_trusted_proxy_wrote():
    # A proxy appends the address it saw to what the client sent: the client's own entries
    # come first and prove nothing (issue #14: they picked whose lockout a failure counted to).
    proxies = ["10.0.0.0/24"]
    for forwarded, client in [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two proxies in a row
        ("  203.0.113.9 ,", "203.0.113.9"),
        ("10.0.0.8, 10.0.0.7", "10.0.0.8"),  # nothing but proxies: the first of them
    ]:
        found = credentials_from_scope(
            scope("10.0.0.5", {"x-forwarded-for": forwarded}), trusted_proxies=proxies
        )
        assert found.peer_ip == client, forwarded
