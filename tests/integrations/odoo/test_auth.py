"""Operators sign in to the admin with their Odoo login and password (OdooBackend)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.integrations.odoo.models import OdooUser

User = get_user_model()
BACKEND = "apps.integrations.odoo.auth.OdooBackend"
PASSWORD = "anna-odoo-password-7"


@pytest.fixture
def odoo_login(settings, instance, operators, odoo):
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, BACKEND]
    instance.login_enabled = True
    instance.save()
    return odoo.add_user("anna", "Anna Bianchi", groups=[1, 2], password=PASSWORD)


def sign_in(username: str, password: str) -> Client:
    client = Client()
    client.post("/admin/login/", {"username": username, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_an_odoo_employee_signs_in_and_gets_an_account(odoo_login) -> None:
    client = sign_in("anna", PASSWORD)
    assert signed_in(client)
    anna = User.objects.get(username="anna")
    assert anna.is_staff and list(anna.groups.values_list("name", flat=True)) == ["Operators"]
    assert OdooUser.objects.get(user=anna).odoo_uid == odoo_login
    assert not anna.has_usable_password()  # the password stays Odoo's
    assert client.get("/admin/").status_code == 200


def test_a_wrong_password_is_refused(odoo_login, odoo) -> None:
    assert not signed_in(sign_in("anna", "wrong"))
    assert not User.objects.filter(username="anna").exists()


def test_an_employee_out_of_mapped_groups_is_refused(odoo_login, odoo) -> None:
    odoo.records["res.users"][odoo_login]["groups_id"] = [1]
    assert not signed_in(sign_in("anna", PASSWORD))


def test_a_local_superuser_is_not_taken_over(odoo_login, odoo) -> None:
    User.objects.create_superuser("anna", password="the-local-password-9")
    assert not signed_in(sign_in("anna", PASSWORD))
    assert signed_in(sign_in("anna", "the-local-password-9"))


def test_an_unreachable_odoo_refuses_without_error(odoo_login, odoo) -> None:
    odoo.fail_next, odoo.fail_mode = 10, "drop"
    assert not signed_in(sign_in("anna", PASSWORD))


def test_the_login_is_off_unless_the_instance_allows_it(odoo_login, instance) -> None:
    instance.login_enabled = False
    instance.save()
    assert not signed_in(sign_in("anna", PASSWORD))


def test_a_sign_in_does_not_wait_for_retries(odoo_login, odoo) -> None:
    odoo.fail_next, odoo.fail_mode = 10, "503"
    assert not signed_in(sign_in("anna", PASSWORD))
    assert [call[0] for call in odoo.calls] == ["failed"]  # one try, no retry
