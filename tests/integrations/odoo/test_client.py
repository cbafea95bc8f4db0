"""The XML-RPC client against a local Odoo: calls, fault shapes, retries, unreachable."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from django.utils import translation

from apps.integrations.odoo.client import (
    FAULT_ACCESS_DENIED,
    FAULT_ACCESS_ERROR,
    FAULT_APPLICATION_ERROR,
    OdooClient,
    OdooError,
)
from tests.conftest import free_port
from tests.integrations.odoo.fake_odoo import DB, SERVICE_KEY, SERVICE_LOGIN, FakeOdoo


def client(odoo: FakeOdoo, **kwargs) -> OdooClient:
    values = {"url": odoo.base, "database": DB, "login": SERVICE_LOGIN, "secret": SERVICE_KEY}
    return OdooClient(**{**values, **kwargs})


def test_it_reads_the_version_and_authenticates(odoo: FakeOdoo) -> None:
    c = client(odoo)
    assert c.version()["server_version"] == "17.0"
    assert c.authenticate() == 2
    assert ("common", "authenticate", SERVICE_LOGIN) in odoo.calls


def test_it_calls_execute_kw_with_odoo_arguments(odoo: FakeOdoo) -> None:
    c = client(odoo)
    rows = c.search_read(
        "product.product", [["default_code", "=", "EV-DC"]], fields=["name", "list_price"]
    )
    assert rows == [{"id": 12, "name": "Charging energy DC fast", "list_price": 0.69}]
    partner = c.create("res.partner", {"name": "Rossi"})
    assert c.write("res.partner", [partner], {"name": "Rossi Srl"}) is True
    assert c.read("res.partner", [partner], fields=["name"]) == [
        {"id": partner, "name": "Rossi Srl"}
    ]
    assert odoo.object_calls("create") == [("object", "res.partner", "create")]


def test_bad_credentials_are_a_permanent_error_and_not_retried(odoo: FakeOdoo) -> None:
    c = client(odoo, secret="wrong-key")
    with pytest.raises(OdooError) as caught:
        c.authenticate()
    assert caught.value.permanent is True
    assert caught.value.fault_code == FAULT_ACCESS_DENIED
    assert "refused the credentials of api@example.com" in str(caught.value)
    assert "wrong-key" not in str(caught.value) and "wrong-key" not in repr(c)
    assert c.attempts == 1


def test_a_bad_key_on_execute_kw_is_access_denied(odoo: FakeOdoo) -> None:
    c = client(odoo)
    c.authenticate()
    odoo.passwords[SERVICE_LOGIN] = "rotated"
    with pytest.raises(OdooError) as caught:
        c.search_read("res.partner", [], fields=["name"])
    assert caught.value.permanent and caught.value.fault_code == FAULT_ACCESS_DENIED


def test_an_access_error_fault_is_permanent_with_odoo_message(odoo: FakeOdoo) -> None:
    odoo.denied.add((SERVICE_LOGIN, "sale.order"))
    c = client(odoo)
    with pytest.raises(OdooError) as caught:
        c.search_read("sale.order", [], fields=["name"])
    assert caught.value.permanent and caught.value.fault_code == FAULT_ACCESS_ERROR
    assert "Contact your administrator" in str(caught.value)
    assert c.attempts == 2  # authenticate, then the one refused call: never retried


def test_an_application_error_gives_the_last_line_of_the_traceback(odoo: FakeOdoo) -> None:
    c = client(odoo, database="nope")
    with pytest.raises(OdooError) as caught:
        c.version() and c.authenticate()
    assert caught.value.fault_code == FAULT_APPLICATION_ERROR
    assert str(caught.value).endswith('database "nope" does not exist')
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize("mode", ["drop", "503"])
def test_transient_failures_are_retried_then_answered(odoo: FakeOdoo, mode: str) -> None:
    odoo.fail_mode, odoo.fail_next = mode, 2
    c = client(odoo, retries=2)
    assert c.version()["server_version"] == "17.0"
    assert c.attempts == 3
    assert [call[0] for call in odoo.calls] == ["failed", "failed", "common"]


def test_retries_are_bounded_and_back_off(odoo: FakeOdoo) -> None:
    odoo.fail_mode, odoo.fail_next = "503", 10
    waits: list[float] = []
    c = client(odoo, retries=3, backoff=0.5, sleep=waits.append)
    with pytest.raises(OdooError) as caught:
        c.version()
    assert caught.value.permanent is False
    assert "unavailable (HTTP 503)" in str(caught.value)
    assert c.attempts == 4
    assert waits == [0.5, 1.0, 2.0]


def test_an_http_error_that_is_not_transient_is_permanent(odoo: FakeOdoo) -> None:
    c = OdooClient(url=odoo.base + "/wrong", database=DB, login="x", secret="y", retries=3)
    with pytest.raises(OdooError) as caught:
        c.version()
    assert caught.value.permanent is True and "HTTP 404" in str(caught.value)
    assert c.attempts == 1


def test_a_refused_connection_is_unreachable_and_retried(db) -> None:
    c = OdooClient(
        url=f"http://127.0.0.1:{free_port()}",
        database=DB,
        login="x",
        secret="y",
        retries=2,
        backoff=0,
    )
    with pytest.raises(OdooError) as caught:
        c.version()
    assert caught.value.permanent is False
    assert "cannot be reached" in str(caught.value)
    assert c.attempts == 3


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_a_server_that_never_answers_times_out(silent_server: str) -> None:
    c = OdooClient(
        url=silent_server, database=DB, login="x", secret="y", timeout=0.2, retries=1, backoff=0
    )
    with pytest.raises(OdooError) as caught:
        c.version()
    assert caught.value.permanent is False
    assert "timed out" in str(caught.value)
    assert c.attempts == 2


def test_a_create_whose_answer_is_lost_is_not_sent_again(odoo: FakeOdoo) -> None:
    c = client(odoo, retries=3)
    c.authenticate()
    odoo.fail_after, odoo.fail_mode = 0, "lose"
    with pytest.raises(OdooError) as caught:
        c.create("res.partner", {"name": "Once"})
    assert caught.value.permanent is False
    names = [p["name"] for p in odoo.records["res.partner"].values()]
    assert names.count("Once") == 1
    assert c.attempts == 2  # authenticate, one create


def test_errors_are_translated(odoo: FakeOdoo) -> None:
    with translation.override("it"), pytest.raises(OdooError) as caught:
        client(odoo, secret="wrong").authenticate()
    assert str(caught.value) == (
        "Odoo ha rifiutato le credenziali di api@example.com sul database constellation."
    )
