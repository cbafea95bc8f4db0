"""Security at the charger edge, over real sockets: profiles, hijacking, lockout, limits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core import mail

from apps.chargers.models import ChargingStation, SecurityProfile
from apps.commands.models import ChargerCommand
from apps.commands.services import SECRET_PLACEHOLDER, CommandError, send_command
from apps.ocpp.models import MessageLog
from apps.security.models import SecurityEvent
from apps.security.services import station_password_rotate, station_password_set
from tests.commands.helpers import wait_final
from tests.ocpp.charger import CHARGERS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connect(
    url: str, headers: dict | None = None, ssl=None, source: str | None = None
) -> AsyncIterator:
    """Connect as a charger; `source`: the loopback address to connect from (127.0.0.0/8)."""
    local = {"local_addr": (source, 0)} if source else {}
    async with websockets.connect(
        url, subprotocols=["ocpp1.6"], additional_headers=headers or {}, ssl=ssl, **local
    ) as ws:
        yield ws


async def served(ws) -> bool:
    """Tell whether the connection is served (a Heartbeat answered) or was closed on us."""
    try:
        await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    except websockets.ConnectionClosed:
        return False
    return reply[0] in (3, 4)


async def closed_with(ws) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
        await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def refusal(
    url: str, headers: dict | None = None, ssl=None, source: str | None = None
) -> websockets.http11.Response:
    """Connect as a charger that is refused at the handshake; return the HTTP answer."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(url, headers, ssl=ssl, source=source):
            pass
    return refused.value.response


async def refused_with(
    url: str, headers: dict | None = None, ssl=None, source: str | None = None
) -> tuple[int, str]:
    """Connect as a charger that is refused at the handshake; return the status and reason."""
    response = await refusal(url, headers, ssl=ssl, source=source)
    return response.status_code, response.body.decode()


async def connected(url: str, headers: dict | None = None) -> bool:
    """Tell whether a charger connecting to `url` is served (False: refused at the handshake)."""
    try:
        async with connect(url, headers) as ws:
            return await served(ws)
    except websockets.InvalidStatus:
        return False


async def events(charger_id: str) -> list[str]:
    return await db(
        lambda: list(
            SecurityEvent.objects.filter(charger_id=charger_id)
            .order_by("id")
            .values_list("event_type", flat=True)
        )
    )


async def station_with_password(charger_id: str, profile: int = SecurityProfile.BASIC) -> str:
    def make() -> str:
        station = ChargingStation.objects.create(
            charger_id=charger_id, registration_status="Accepted"
        )
        password = station_password_set(station=station)
        station.security_profile = profile
        station.save(update_fields=["security_profile"])
        return password

    return await db(make)


class TestProfiles:
    async def test_basic_auth_with_the_right_password_connects(self, asgi_server):
        password = await station_with_password("SEC-B1")
        async with connect(f"{asgi_server.ws_url}/ocpp/SEC-B1", basic("SEC-B1", password)) as ws:
            assert await served(ws)

    @pytest.mark.parametrize(
        ("user", "password", "event"),
        [
            ("SEC-B2", "wrong-password-123", "FailedToAuthenticateAtCsms"),
            ("SOMEONE-ELSE", None, "FailedToAuthenticateAtCsms"),
        ],
    )
    async def test_wrong_credentials_are_refused_and_recorded(
        self, asgi_server, user, password, event
    ):
        right = await station_with_password("SEC-B2")
        headers = basic(user, password or right)
        response = await refusal(f"{asgi_server.ws_url}/ocpp/SEC-B2", headers)
        assert (response.status_code, response.body) == (401, b"authentication failed")
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="OCPP"')
        assert await events("SEC-B2") == [event]

    async def test_a_weaker_profile_than_configured_is_a_downgrade(self, asgi_server):
        await station_with_password("SEC-DOWN")
        # No credentials where a password would do: asked for one.
        response = await refusal(f"{asgi_server.ws_url}/ocpp/SEC-DOWN")
        assert (response.status_code, response.body) == (401, b"security profile 1 required")
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert await events("SEC-DOWN") == ["DowngradeAttempt"]

    async def test_without_unsecured_connections_unknown_chargers_are_refused(
        self, asgi_server, settings
    ):
        settings.OCPP_ALLOW_UNSECURED = False
        status, reason = await refused_with(f"{asgi_server.ws_url}/ocpp/SEC-NEW")
        assert status == 401 and "credentials required" in reason
        assert await events("SEC-NEW") == ["UnsecuredConnectionRefused"]
        assert not await db(ChargingStation.objects.filter(charger_id="SEC-NEW").exists)

    async def test_profile_2_needs_tls(self, asgi_server, tls_server, tls_client_context):
        password = await station_with_password("SEC-TLS", SecurityProfile.TLS_BASIC)
        headers = basic("SEC-TLS", password)
        # The right password, without TLS: no credentials can help (403, not 401).
        assert await refused_with(f"{asgi_server.ws_url}/ocpp/SEC-TLS", headers) == (
            403,
            "security profile 2 required",
        )
        async with connect(
            f"{tls_server.ws_url}/ocpp/SEC-TLS", headers, ssl=tls_client_context
        ) as ws:
            assert await served(ws)
        assert await events("SEC-TLS") == ["DowngradeAttempt"]

    async def test_tls_from_a_trusted_proxy_counts(self, asgi_server, settings):
        password = await station_with_password("SEC-PROXY", SecurityProfile.TLS_BASIC)
        headers = {**basic("SEC-PROXY", password), "X-Forwarded-Proto": "https"}
        # Not a trusted proxy yet: the header is ignored.
        assert await refused_with(f"{asgi_server.ws_url}/ocpp/SEC-PROXY", headers) == (
            403,
            "security profile 2 required",
        )
        settings.OCPP_TRUSTED_PROXIES = ["127.0.0.0/8"]
        async with connect(f"{asgi_server.ws_url}/ocpp/SEC-PROXY", headers) as ws:
            assert await served(ws)

    @pytest.mark.parametrize(
        ("verify", "dn", "allowed"),
        [
            ("SUCCESS", "CN=SEC-CERT,O=Acme", True),
            ("SUCCESS", "CN=SOMEONE-ELSE,O=Acme", False),
            ("FAILED:certificate has expired", "CN=SEC-CERT", False),
        ],
    )
    async def test_profile_3_takes_a_verified_client_certificate(
        self, asgi_server, settings, verify, dn, allowed
    ):
        settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
        await db(
            ChargingStation.objects.create,
            charger_id="SEC-CERT",
            security_profile=SecurityProfile.TLS_CLIENT_CERT,
        )
        headers = {
            "X-Forwarded-Proto": "https",
            "X-SSL-Client-Verify": verify,
            "X-SSL-Client-S-DN": dn,
        }
        url = f"{asgi_server.ws_url}/ocpp/SEC-CERT"
        if allowed:
            async with connect(url, headers) as ws:
                assert await served(ws)
        else:
            # A password cannot make up for a bad certificate: 403, no Basic challenge.
            response = await refusal(url, headers)
            assert (response.status_code, response.body) == (403, b"authentication failed")
            assert "WWW-Authenticate" not in response.headers
            assert await events("SEC-CERT") == ["InvalidChargingStationCertificate"]

    async def test_repeated_failures_lock_their_source_out(self, asgi_server, settings):
        settings.OCPP_AUTH_MAX_FAILURES = 3
        right = await station_with_password("SEC-LOCK")
        settings.OCPP_AUTH_LOCKOUT_SECONDS = 300
        url = f"{asgi_server.ws_url}/ocpp/SEC-LOCK"
        for _ in range(3):
            status, _ = await refused_with(url, basic("SEC-LOCK", "not-the-password-xx"))
            assert status == 401
        response = await refusal(url, basic("SEC-LOCK", right))
        assert response.status_code == 429 and b"locked out" in response.body
        assert response.headers["Retry-After"] == "300"
        assert (await events("SEC-LOCK"))[-1] == "AuthenticationLockout"


class TestLockoutIsNoWeapon:
    """Issue #14: failed guesses lock out their source, never the station elsewhere."""

    @pytest.fixture(autouse=True)
    def three_failures(self, settings):
        settings.OCPP_AUTH_MAX_FAILURES = 3

    @staticmethod
    async def guess_wrong(
        url: str,
        charger_id: str,
        times: int,
        source: str | None = None,
        headers_extra: dict | None = None,
    ) -> list[str]:
        """Connect `times` with a wrong password; return the refusals' reasons."""
        headers = {**basic(charger_id, "not-the-password-xx"), **(headers_extra or {})}
        reasons = []
        for _ in range(times):
            reasons.append((await refused_with(url, headers, source=source))[1])
        return reasons

    async def test_wrong_guesses_from_one_address_leave_the_station_at_another_served(
        self, asgi_server
    ):
        right = await station_with_password("SEC-W1")
        url = f"{asgi_server.ws_url}/ocpp/SEC-W1"
        reasons = await self.guess_wrong(url, "SEC-W1", 4, source="127.0.0.2")
        assert reasons == ["authentication failed"] * 3 + [
            "locked out after failed authentications, retry later"
        ]
        # The station, from its own address, with its password: served, lockout or not.
        async with connect(url, basic("SEC-W1", right), source="127.0.0.1") as ws:
            assert await served(ws)
        # The locked source is refused before its password is looked at, even the right one:
        # otherwise the lockout would only tell the attacker when he guessed right.
        status, reason = await refused_with(url, basic("SEC-W1", right), source="127.0.0.2")
        assert status == 429 and "locked out" in reason
        assert await events("SEC-W1") == ["FailedToAuthenticateAtCsms"] * 3 + [
            "AuthenticationLockout"
        ]
        lockout = await db(
            lambda: (
                SecurityEvent.objects.get(
                    charger_id="SEC-W1", event_type="AuthenticationLockout"
                ).tech_info
            )
        )
        assert "127.0.0.2" in lockout

    async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_source(
        self, asgi_server, settings
    ):
        settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
        right = await station_with_password("SEC-W2")
        url = f"{asgi_server.ws_url}/ocpp/SEC-W2"
        attacker = {"X-Forwarded-For": "198.51.100.7"}
        reasons = await self.guess_wrong(url, "SEC-W2", 4, headers_extra=attacker)
        assert reasons[-1] == "locked out after failed authentications, retry later"
        station = {**basic("SEC-W2", right), "X-Forwarded-For": "203.0.113.5"}
        async with connect(url, station) as ws:
            assert await served(ws)

    async def test_a_client_cannot_name_its_source_in_a_forwarded_for_it_sends(
        self, asgi_server, settings
    ):
        # nginx's `$proxy_add_x_forwarded_for` appends the address it sees to what the client
        # sent: the client's own entries come first and prove nothing. Believing the first
        # entry let an attacker pick any source: escape the lockout, or lock the victim's.
        settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
        right = await station_with_password("SEC-W3")
        url = f"{asgi_server.ws_url}/ocpp/SEC-W3"
        forged = {"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}
        reasons = await self.guess_wrong(url, "SEC-W3", 4, headers_extra=forged)
        assert reasons[-1] == "locked out after failed authentications, retry later"
        station = {**basic("SEC-W3", right), "X-Forwarded-For": "203.0.113.5"}
        async with connect(url, station) as ws:
            assert await served(ws)

    async def test_a_verified_certificate_is_admitted_from_a_locked_source(
        self, asgi_server, settings
    ):
        # A certificate the TLS terminator verified is no secret guessed here: admitting it
        # tells a prober nothing, so it is never locked out.
        settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
        await db(
            ChargingStation.objects.create,
            charger_id="SEC-W4",
            security_profile=SecurityProfile.TLS_CLIENT_CERT,
        )
        url = f"{asgi_server.ws_url}/ocpp/SEC-W4"
        source = {"X-Forwarded-For": "198.51.100.8", "X-Forwarded-Proto": "https"}
        reasons = await self.guess_wrong(url, "SEC-W4", 4, headers_extra=source)
        assert reasons[-1] == "locked out after failed authentications, retry later"
        certificate = {
            **source,
            "X-SSL-Client-Verify": "SUCCESS",
            "X-SSL-Client-S-DN": "CN=SEC-W4,O=Acme",
        }
        async with connect(url, certificate) as ws:
            assert await served(ws)


class TestHijacking:
    async def test_an_authenticated_second_connection_replaces_the_first(self, asgi_server):
        password = await station_with_password("SEC-HJ1")
        url, headers = f"{asgi_server.ws_url}/ocpp/SEC-HJ1", basic("SEC-HJ1", password)
        async with connect(url, headers) as first:
            assert await served(first)
            async with connect(url, headers) as second:
                assert await served(second)
                code, reason = await closed_with(first)
                assert (code, reason) == (4000, "replaced by a new connection")
                assert await served(second)
        assert await events("SEC-HJ1") == ["ConnectionReplaced"]

    async def test_an_unauthenticated_second_connection_is_refused(self, asgi_server):
        url = f"{asgi_server.ws_url}/ocpp/SEC-HJ2"
        async with connect(url) as first:
            assert await served(first)
            assert await refused_with(url) == (403, "charger already connected")
            assert await served(first)
        assert await events("SEC-HJ2") == ["DuplicateConnectionRefused"]
        # Once the first has gone, the station connects again.
        async with connect(url) as third:
            assert await served(third)


class TestLimits:
    async def test_handshakes_per_ip_are_limited(self, asgi_server, settings):
        settings.OCPP_HANDSHAKES_PER_MINUTE_PER_IP = 3
        url = f"{asgi_server.ws_url}/ocpp/SEC-RATE"
        results = [await connected(url) for _ in range(3)]
        assert results == [True, True, True]
        response = await refusal(url)
        assert (response.status_code, response.body) == (
            429,
            b"too many connection attempts, retry later",
        )
        assert response.headers["Retry-After"] == "20"  # 3 a minute: the next in 20 s
        assert "RateLimitExceeded" in await events("SEC-RATE")

    async def test_messages_per_second_are_limited(self, asgi_server, settings):
        settings.OCPP_MESSAGES_PER_SECOND = 2
        async with connect(f"{asgi_server.ws_url}/ocpp/SEC-MSG") as ws:
            for n in range(10):
                await ws.send(json.dumps([2, f"m{n}", "Heartbeat", {}]))
            replies = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(10)]
        refused = [reply for reply in replies if reply[0] == 4]
        assert refused and all(reply[2] == "SecurityError" for reply in refused)
        assert len(refused) < 10  # the burst was served
        assert await events("SEC-MSG") == ["RateLimitExceeded"]  # one event, not one per frame

    async def test_outstanding_commands_are_limited(self, asgi_server, settings):
        settings.OCPP_MAX_OUTSTANDING_COMMANDS = 2
        settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
        station = await db(ChargingStation.objects.create, charger_id="SEC-CMD")
        for _ in range(2):
            await db(send_command, station=station, action="ClearCache", payload={})
        with pytest.raises(CommandError, match="already waiting"):
            await db(send_command, station=station, action="ClearCache", payload={})
        assert await db(ChargerCommand.objects.filter(station=station).count) == 2
        assert await events("SEC-CMD") == ["CommandLimitReached"]

    async def test_a_repeated_message_id_is_refused(self, asgi_server):
        async with connect(f"{asgi_server.ws_url}/ocpp/SEC-DUP") as ws:
            for _ in range(2):
                await ws.send(json.dumps([2, "same-id", "Heartbeat", {}]))
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            second = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first[0] == 3
        assert second[:3] == [4, "same-id", "ProtocolError"]


class TestPasswords:
    @pytest.mark.parametrize(
        ("version", "action"),
        [("ocpp1.6", "ChangeConfiguration"), ("ocpp2.0.1", "SetVariables")],
    )
    async def test_a_rotated_password_is_pushed_and_takes_over(self, asgi_server, version, action):
        charger_id = f"SEC-ROT-{version}"
        old = await station_with_password(charger_id)
        url = f"{asgi_server.ws_url}/ocpp/{charger_id}"
        # Connected with the old password, the charger receives the new one.
        async with websockets.connect(
            url, subprotocols=[version], additional_headers=basic(charger_id, old)
        ) as ws:
            charger = CHARGERS[version](charger_id, ws, response_timeout=10)
            task = asyncio.create_task(charger.start())
            station = await db(ChargingStation.objects.get, charger_id=charger_id)
            sent = await asgi_server.run(station_password_rotate, station=station)
            done = await wait_final(sent.pk)
            task.cancel()
        assert done.status == "accepted"
        received = charger.received[action][0]
        if action == "ChangeConfiguration":
            # 1.6 security whitepaper: AuthorizationKey is the hex of the password's bytes
            # (16 to 20 bytes); the charger sends the decoded bytes as its Basic password.
            sent_value = received["value"]
            assert re.fullmatch(r"[0-9a-f]{32,40}", sent_value), sent_value
            new = bytes.fromhex(sent_value).decode()
            assert len(new) == 20 and new != old
        else:
            sent_value = new = received["set_variable_data"][0]["attribute_value"]
            assert len(new) == 32 and new != old
        # The secret is nowhere in the database: not in the command, not in the log.
        assert SECRET_PLACEHOLDER in json.dumps(done.payload)
        frames = await db(lambda: " ".join(MessageLog.objects.values_list("frame", flat=True)))
        for secret in (new, sent_value):
            assert secret not in frames and secret not in json.dumps(done.payload)
        async with connect(url, basic(charger_id, new)) as ws:
            assert await served(ws)
        assert await refused_with(url, basic(charger_id, old)) == (401, "authentication failed")


async def test_security_events_are_mailed_once_per_kind(asgi_server, settings, celery_eager):
    settings.OCPP_SECURITY_EMAILS = ["soc@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    await station_with_password("SEC-MAIL")
    for _ in range(2):
        assert (await refused_with(f"{asgi_server.ws_url}/ocpp/SEC-MAIL"))[0] == 401
    assert await events("SEC-MAIL") == ["DowngradeAttempt", "DowngradeAttempt"]
    assert len(mail.outbox) == 1
    assert "DowngradeAttempt" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["soc@example.com"]
