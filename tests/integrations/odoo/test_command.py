"""`manage.py odoo test | sync-users [--dry-run] | products QUERY`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

User = get_user_model()


def run(*args: str) -> str:
    out = StringIO()
    call_command("odoo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_test(instance) -> None:
    assert run("test") == "ERP: Odoo 17.0, signed in as user id 2\n"


def test_sync_users_dry_run_then_apply(instance, operators, odoo) -> None:
    odoo.add_user("anna", "Anna Bianchi", groups=[2])
    out = run("sync-users", "--dry-run")
    assert "create     anna" in out
    assert out.endswith(
        "ERP: dry run, nothing changed: 1 to create, 0 to update, 0 to deactivate, 0 skipped\n"
    )
    assert not User.objects.filter(username="anna").exists()
    run("sync-users")
    assert User.objects.get(username="anna").is_staff


def test_products(instance) -> None:
    out = run("products", "charging")
    assert "EV-AC" in out and "Charging energy DC fast" in out and "0.69" in out


def test_errors_are_command_errors(instance, odoo) -> None:
    instance.set_api_key("wrong")
    instance.save()
    with pytest.raises(CommandError, match="refused the credentials"):
        run("test")
    with pytest.raises(CommandError, match="No enabled Odoo instance named 'Nope'"):
        run("--instance", "Nope", "test")
