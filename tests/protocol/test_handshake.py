"""What a handshake's scope says about the client; proxy headers only from trusted proxies."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def _certificate(common_name: str, serial: int) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def tls_scope(**tls: object) -> dict:
    found = scope("192.0.2.7", {}, scheme="wss")
    found["extensions"] = {"websocket.http.response": {}, "tls": tls}
    return found


def test_the_servers_tls_extension_gives_the_verified_certificate():
    pem = _certificate("CP-7", 0x0ABC)
    found = credentials_from_scope(
        tls_scope(client_cert_chain=[pem], client_cert_name="CN=CP-7", client_cert_error=None),
        trusted_proxies=[],
    )
    assert (found.tls, found.client_cert_verify) == (True, "SUCCESS")
    assert (found.client_cert_cn, found.client_cert_serial) == ("CP-7", "abc")


def test_a_tls_connection_without_a_certificate_has_none():
    found = credentials_from_scope(
        tls_scope(client_cert_chain=[], client_cert_name=None, client_cert_error=None),
        trusted_proxies=[],
    )
    assert found.tls
    assert (found.client_cert_verify, found.client_cert_cn, found.client_cert_serial) == (
        None,
        None,
        None,
    )


def test_a_certificate_that_failed_verification_says_so():
    found = credentials_from_scope(
        tls_scope(
            client_cert_chain=[_certificate("CP-7", 5)],
            client_cert_name="CN=CP-7",
            client_cert_error="unable to get local issuer certificate",
        ),
        trusted_proxies=[],
    )
    assert found.client_cert_verify == "FAILED:unable to get local issuer certificate"


def test_a_name_alone_gives_the_cn_and_an_unreadable_chain_fails():
    found = credentials_from_scope(
        tls_scope(client_cert_name="O=Acme\\, Inc.,CN=CP\\,8"), trusted_proxies=[]
    )
    assert (found.client_cert_verify, found.client_cert_cn) == ("SUCCESS", "CP,8")
    found = credentials_from_scope(
        tls_scope(client_cert_chain=["not a certificate"]), trusted_proxies=[]
    )
    assert found.client_cert_verify.startswith("FAILED:unreadable certificate")
    assert found.client_cert_cn is None


def test_proxy_headers_do_not_count_when_the_server_terminated_tls_itself():
    found = scope("10.0.0.5", {"x-ssl-client-verify": "SUCCESS", "x-ssl-client-s-dn": "CN=CP-9"})
    found["extensions"] = {"tls": {"client_cert_chain": [], "client_cert_name": None}}
    credentials = credentials_from_scope(found, trusted_proxies=["10.0.0.5"])
    assert (credentials.client_cert_verify, credentials.client_cert_cn) == (None, None)


def test_a_trusted_proxy_forwards_the_certificates_serial():
    headers = {
        "x-ssl-client-verify": "SUCCESS",
        "x-ssl-client-s-dn": "CN=CP-9",
        "x-ssl-client-serial": "00AB12",
    }
    found = credentials_from_scope(scope("10.0.0.5", headers), trusted_proxies=["10.0.0.5"])
    assert (found.client_cert_cn, found.client_cert_serial) == ("CP-9", "ab12")
    headers["x-ssl-client-serial"] = "not hex"
    found = credentials_from_scope(scope("10.0.0.5", headers), trusted_proxies=["10.0.0.5"])
    assert found.client_cert_serial is None
