"""Security profiles 2 and 3 over real TLS, served by uvicorn itself (start.sh --tls-cert).

The server is start.sh's command (config/serve.py) in its own process, with a server
certificate `manage.py tls_server_certificate` made from the CSMS CA; the chargers are real
TLS clients that check that certificate against the CA for the name they dial (127.0.0.1).
A station gets its client certificate the way a real one does: over a profile-2 connection
(TLS + password) it sends a CSR (SignCertificate) and is sent the signed chain
(CertificateSigned); raised to profile 3, it is admitted by that certificate alone.
Certificates the CA did not issue, none at all, and a revoked one are refused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from pathlib import Path

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ocpp.v16 import call
from websockets.exceptions import InvalidMessage

from tests import pki
from tests.faults.processes import Database, manage, server_env
from tests.faults.test_handshake_refusals import refused
from tests.ocpp.charger import connect_charger
from tests.security.csrs import make_csr

pytestmark = pytest.mark.slow

CHARGER = "TLS-CP-1"
PASSWORD = "tls-profile-password-0123456789"


def shell(env: dict[str, str], code: str) -> str:
    """Run Python in the server's project (manage.py shell): real services, its database."""
    completed = manage(env, "shell", "-c", code)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def write_key_and_chain(folder: Path, name: str, key: object, chain_pem: str) -> tuple[str, str]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_text(chain_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def self_signed(common_name: str) -> tuple[object, str]:
    """A key and a certificate naming `common_name` that no CA of the server issued."""
    key, cert = pki.self_signed(common_name)
    return key, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def client_context(ca_file: Path, cert: tuple[str, str] | None = None) -> ssl.SSLContext:
    """A charger's TLS: it trusts the CSMS CA, checks the host name, and maybe has a cert."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def basic(charger_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def received(cp: object, action: str, within: float = 20.0) -> list[dict]:
    """Wait (bounded) until the charger was sent a CALL of `action`; return what it got."""
    deadline = time.monotonic() + within
    while not cp.received[action]:
        assert time.monotonic() < deadline, f"{action} was not received"
        await asyncio.sleep(0.05)
    return cp.received[action]


async def boot_answered(ws_url: str, context: ssl.SSLContext, **options: object) -> dict:
    """Connect as CHARGER, send a BootNotification and return its answer's payload."""
    async with websockets.connect(
        f"{ws_url}/ocpp/{CHARGER}", subprotocols=["ocpp1.6"], ssl=context, **options
    ) as ws:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        await ws.send(json.dumps([2, "boot-1", "BootNotification", boot]))
        answer = json.loads(await ws.recv())
    assert answer[:2] == [3, "boot-1"], answer
    return answer[2]


@pytest.fixture
def tls_setup(make_server, sqlite_url: str, tmp_path: Path) -> dict:
    """A TLS server on a certificate from its CSMS CA, and a profile-2 station."""
    data_dir = tmp_path / "data"
    env = server_env(data_dir, sqlite_url, OCPP_ALLOW_UNSECURED="false")
    made = manage(env, "tls_server_certificate", "--host", "127.0.0.1")
    assert made.returncode == 0, made.stderr
    assert oct((data_dir / "tls" / "server.key").stat().st_mode & 0o777) == "0o600"
    shell(
        env,
        "from apps.chargers.services import station_get_or_register\n"
        "from apps.security.services import station_password_set\n"
        f"station = station_get_or_register(charger_id={CHARGER!r})\n"
        f"station_password_set(station=station, password={PASSWORD!r})\n"
        "station.security_profile = 2\n"
        "station.save(update_fields=['security_profile'])\n",
    )
    server = make_server(
        sqlite_url,
        "uvicorn",
        tls_ca=data_dir / "ca" / "ca.pem",
        OCPP_ALLOW_UNSECURED="false",
        OCPP_TLS_CERT_FILE=str(data_dir / "tls" / "server.pem"),
        OCPP_TLS_KEY_FILE=str(data_dir / "tls" / "server.key"),
    )
    server.start()
    return {"env": env, "server": server, "ca": data_dir / "ca" / "ca.pem", "folder": tmp_path}


async def test_profile_3_admits_the_certificate_the_csms_ca_issued_and_nothing_else(
    tls_setup: dict, sqlite_url: str
) -> None:
    server, ca_file, folder, env = (tls_setup[k] for k in ("server", "ca", "folder", "env"))
    database = Database(sqlite_url)
    assert server.ws_url.startswith("wss://")

    # The server's certificate is checked for the name dialled: another name fails.
    wrong_name = client_context(ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(
            f"{server.ws_url}/ocpp/{CHARGER}",
            subprotocols=["ocpp1.6"],
            ssl=wrong_name,
            server_hostname="csms.invalid",
        ):
            pass

    # Profile 2: TLS and the password. The station asks for a certificate (SignCertificate)
    # and is sent the chain the CA signed.
    key, csr = make_csr(CHARGER)
    async with connect_charger(
        server.ws_url,
        CHARGER,
        "ocpp1.6",
        ssl=client_context(ca_file),
        additional_headers=basic(CHARGER, PASSWORD),
    ) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        signed = await cp.call(call.SignCertificate(csr=csr))
        assert signed.status == "Accepted"
        (delivered,) = await received(cp, "CertificateSigned")
    chain_pem = delivered["certificate_chain"]
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    own = write_key_and_chain(folder, "own", key, chain_pem)

    # Profile 3 from now on.
    shell(
        env,
        "from apps.chargers.models import ChargingStation\n"
        f"ChargingStation.objects.filter(charger_id={CHARGER!r}).update(security_profile=3)\n",
    )
    # (a) the certificate the CA issued, no password: admitted, its BootNotification answered.
    answer = await boot_answered(server.ws_url, client_context(ca_file, own))
    assert answer["status"] == "Accepted"

    # (c) no certificate: a password is not enough (403), nothing at all asks for credentials.
    answer = await refused(
        f"{server.ws_url}/ocpp/{CHARGER}",
        ["ocpp1.6"],
        ssl=client_context(ca_file),
        password=PASSWORD,
    )
    assert (answer.status, answer.body) == (403, b"security profile 3 required")
    answer = await refused(
        f"{server.ws_url}/ocpp/{CHARGER}", ["ocpp1.6"], ssl=client_context(ca_file)
    )
    assert answer.status == 401

    # (b) a certificate with the right CN that the CA did not issue: the TLS handshake fails,
    # no HTTP answer at all (an HTTP refusal would be InvalidStatus, not caught here).
    foreign_key, foreign_pem = self_signed(CHARGER)
    foreign = write_key_and_chain(folder, "foreign", foreign_key, foreign_pem)
    with pytest.raises((OSError, InvalidMessage)):
        await boot_answered(server.ws_url, client_context(ca_file, foreign))

    # (d) the CA's certificate, revoked by the operator: refused by its serial number.
    revoked = shell(
        env,
        "from apps.security.certificates import issued_certificate_revoke\n"
        "from apps.security.models import IssuedCertificate\n"
        f"cert = IssuedCertificate.objects.get(serial={format(leaf.serial_number, 'x')!r})\n"
        "print(issued_certificate_revoke(certificate=cert, reason='keyCompromise'))\n",
    )
    assert revoked.strip().endswith("True")
    answer = await refused(
        f"{server.ws_url}/ocpp/{CHARGER}", ["ocpp1.6"], ssl=client_context(ca_file, own)
    )
    assert (answer.status, answer.body) == (403, b"authentication failed")

    events = database.rows(
        "SELECT event_type, tech_info FROM security_securityevent WHERE charger_id = %s "
        "AND event_type IN ('DowngradeAttempt', 'InvalidChargingStationCertificate', "
        "'UnsecuredConnectionRefused') ORDER BY id",
        CHARGER,
    )
    assert [event_type for event_type, _ in events] == [
        "DowngradeAttempt",
        "UnsecuredConnectionRefused",
        "InvalidChargingStationCertificate",
    ]
    assert f"certificate {format(leaf.serial_number, 'x')} revoked" in events[-1][1]
    assert "Traceback" not in server.log()


async def test_profile_2_needs_tls_and_the_password(
    tls_setup: dict, make_server, sqlite_url: str
) -> None:
    server, ca_file = tls_setup["server"], tls_setup["ca"]

    answer = await boot_answered(
        server.ws_url, client_context(ca_file), additional_headers=basic(CHARGER, PASSWORD)
    )
    assert answer["status"] == "Accepted"
    answer = await refused(
        f"{server.ws_url}/ocpp/{CHARGER}",
        ["ocpp1.6"],
        ssl=client_context(ca_file),
        password="not-the-password",
    )
    assert (answer.status, answer.body) == (401, b"authentication failed")

    # The same station and password over plain ws (a server without TLS on the same data).
    plain = make_server(sqlite_url, "uvicorn", OCPP_ALLOW_UNSECURED="false")
    plain.start()
    assert plain.ws_url.startswith("ws://")
    answer = await refused(f"{plain.ws_url}/ocpp/{CHARGER}", ["ocpp1.6"], password=PASSWORD)
    assert (answer.status, answer.body) == (403, b"security profile 2 required")
