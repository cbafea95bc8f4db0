"""Operator accounts synchronised from Odoo's res.users: plan, apply, failures."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.integrations.odoo.client import OdooError
from apps.integrations.odoo.models import OdooInstance, OdooUser
from apps.integrations.odoo.services import users_sync, users_sync_all
from apps.integrations.odoo.tasks import sync_users
from tests.conftest import free_port
from tests.integrations.odoo.fake_odoo import FakeOdoo

User = get_user_model()
SETTINGS_GROUP, SALES_ADMIN, SALES_USER = 2, 3, 4


def logins(changes) -> list[str]:
    return sorted(change.login for change in changes)


@pytest.fixture
def staff(odoo: FakeOdoo) -> dict[str, int]:
    """Odoo's employees: two in Settings, one in Sales only, one portal user, one archived."""
    return {
        "anna": odoo.add_user(
            "anna@example.com", "Anna Bianchi", groups=[1, SETTINGS_GROUP], email="anna@example.com"
        ),
        "bruno": odoo.add_user("bruno", "Bruno Verdi", groups=[1, SETTINGS_GROUP, SALES_ADMIN]),
        "carla": odoo.add_user("carla", "Carla Neri", groups=[1, SALES_USER]),
        "portal": odoo.add_user("client@x.it", "A customer", groups=[SETTINGS_GROUP], share=True),
        "old": odoo.add_user("old", "Old Timer", groups=[1, SETTINGS_GROUP], active=False),
    }


def test_a_dry_run_shows_the_plan_and_writes_nothing(instance, operators, staff) -> None:
    plan = users_sync(instance=instance, dry_run=True)
    assert logins(plan.create) == ["anna@example.com", "bruno"]
    assert plan.update == plan.deactivate == []
    assert plan.applied is False
    assert not User.objects.exists() and not OdooUser.objects.exists()
    instance.refresh_from_db()
    assert instance.last_sync_at is None


def test_a_sync_creates_operators_of_the_mapped_groups(instance, operators, sales, staff) -> None:
    plan = users_sync(instance=instance)
    assert plan.applied and logins(plan.create) == ["anna@example.com", "bruno"]
    anna = User.objects.get(username="anna@example.com")
    assert (anna.first_name, anna.last_name, anna.email) == ("Anna", "Bianchi", "anna@example.com")
    assert anna.is_active and anna.is_staff and not anna.is_superuser
    assert not anna.has_usable_password()
    assert list(anna.groups.values_list("name", flat=True)) == ["Operators"]
    bruno = User.objects.get(username="bruno")
    assert set(bruno.groups.values_list("name", flat=True)) == {"Operators", "Sales"}
    assert OdooUser.objects.get(user=bruno).odoo_uid == staff["bruno"]
    # carla's Sales group is not mapped; the portal user is no employee; old is archived.
    assert not User.objects.filter(username__in=["carla", "client@x.it", "old"]).exists()
    instance.refresh_from_db()
    assert instance.last_sync_result == "2 to create, 0 to update, 0 to deactivate, 0 skipped"


def test_a_second_sync_changes_nothing(instance, operators, staff) -> None:
    users_sync(instance=instance)
    plan = users_sync(instance=instance, dry_run=True)
    assert plan.empty and not plan.skipped


def test_it_updates_names_emails_and_groups(instance, operators, sales, staff, odoo) -> None:
    users_sync(instance=instance)
    local_only = Group.objects.create(name="Night shift")
    bruno = User.objects.get(username="bruno")
    bruno.groups.add(local_only)
    odoo.records["res.users"][staff["bruno"]].update(
        name="Bruno Verdi Rossi", email="b@example.com", groups_id=[1, SETTINGS_GROUP]
    )
    plan = users_sync(instance=instance, dry_run=True)
    assert logins(plan.update) == ["bruno"]
    assert "email: '' → 'b@example.com'" in plan.update[0].changes
    users_sync(instance=instance)
    bruno.refresh_from_db()
    assert (bruno.last_name, bruno.email) == ("Verdi Rossi", "b@example.com")
    # The mapped group Sales went with Odoo's; a group given here stays.
    assert set(bruno.groups.values_list("name", flat=True)) == {"Operators", "Night shift"}


def test_it_deactivates_archived_unmapped_and_deleted_users(
    instance, operators, staff, odoo
) -> None:
    users_sync(instance=instance)
    anna_uid = staff["anna"]
    odoo.records["res.users"][anna_uid]["active"] = False
    del odoo.records["res.users"][staff["bruno"]]
    plan = users_sync(instance=instance, dry_run=True)
    assert logins(plan.deactivate) == ["anna@example.com", "bruno"]
    users_sync(instance=instance)
    assert not User.objects.filter(is_active=True).exists()
    assert not User.objects.get(username="anna@example.com").is_staff
    # Back in Odoo, back here.
    odoo.records["res.users"][anna_uid]["active"] = True
    users_sync(instance=instance)
    assert User.objects.get(username="anna@example.com").is_active


def test_a_user_out_of_every_mapped_group_is_deactivated(instance, operators, staff, odoo) -> None:
    users_sync(instance=instance)
    odoo.records["res.users"][staff["bruno"]]["groups_id"] = [1]
    plan = users_sync(instance=instance)
    assert logins(plan.deactivate) == ["bruno"]
    bruno = User.objects.get(username="bruno")
    assert not bruno.is_active and not bruno.groups.exists()


def test_a_local_superuser_is_never_managed(instance, operators, staff) -> None:
    admin = User.objects.create_superuser("bruno", password="local-secret-password-1")
    plan = users_sync(instance=instance)
    assert logins(plan.skipped) == ["bruno"]
    admin.refresh_from_db()
    assert admin.is_superuser and admin.has_usable_password() and admin.first_name == ""
    assert not OdooUser.objects.filter(user=admin).exists()


def test_an_existing_account_with_the_login_is_adopted(instance, operators, staff) -> None:
    local = User.objects.create_user("bruno", password="local-secret-password-1")
    plan = users_sync(instance=instance)
    assert logins(plan.update) == ["bruno"]
    local.refresh_from_db()
    assert local.is_staff and OdooUser.objects.get(user=local).odoo_uid == staff["bruno"]


def test_an_account_of_another_instance_is_left_alone(instance, operators, staff, odoo) -> None:
    users_sync(instance=instance)
    other = OdooInstance.objects.create(
        name="Other",
        url=odoo.base,
        database=instance.database,
        username=instance.username,
        api_key_encrypted=instance.api_key_encrypted,
    )
    other.group_mappings.create(odoo_group="base.group_system", django_group=operators)
    plan = users_sync(instance=other)
    assert plan.create == [] and logins(plan.skipped) == ["anna@example.com", "bruno"]


def test_groups_field_of_odoo_19(instance, operators, staff, odoo) -> None:
    odoo.version_major = 19
    for user in odoo.records["res.users"].values():
        user["group_ids"] = user.pop("groups_id")
    plan = users_sync(instance=instance, dry_run=True)
    assert logins(plan.create) == ["anna@example.com", "bruno"]


def test_an_unknown_group_is_reported(instance, operators, staff) -> None:
    instance.group_mappings.create(odoo_group="base.group_nope", django_group=operators)
    plan = users_sync(instance=instance, dry_run=True)
    assert plan.unresolved_groups == ["base.group_nope"]


# -- failures --------------------------------------------------------------------------------
def snapshot() -> list[tuple]:
    return list(
        User.objects.order_by("username").values_list(
            "username", "first_name", "email", "is_active", "is_staff"
        )
    ) + list(OdooUser.objects.order_by("odoo_uid").values_list("odoo_uid", "user__username"))


@pytest.mark.parametrize("answered", [1, 2, 3, 4])
def test_a_server_failing_halfway_writes_nothing(
    instance, operators, sales, staff, odoo, answered
) -> None:
    users_sync(instance=instance)
    before = snapshot()
    odoo.records["res.users"][staff["bruno"]]["name"] = "Renamed"
    odoo.records["res.users"][staff["anna"]]["active"] = False
    odoo.add_user("dario", "Dario New", groups=[SETTINGS_GROUP])
    odoo.calls.clear()
    odoo.fail_after = answered  # version, authenticate, ir.model.data, res.groups, res.users
    with pytest.raises(OdooError) as caught:
        users_sync(instance=instance)
    assert caught.value.permanent is False
    assert snapshot() == before
    assert len([c for c in odoo.calls if c[0] != "failed"]) == answered
    assert len([c for c in odoo.calls if c[0] == "failed"]) == 3  # 1 + ODOO_RETRIES
    instance.refresh_from_db()
    assert instance.last_sync_result.startswith("failed: Odoo at")


def test_bad_credentials_write_nothing(instance, operators, staff, odoo) -> None:
    instance.set_api_key("not-the-key")
    instance.save()
    with pytest.raises(OdooError) as caught:
        users_sync(instance=instance)
    assert caught.value.permanent
    assert "refused the credentials" in str(caught.value)
    assert not User.objects.exists()
    assert len(odoo.calls) == 2  # version, authenticate: no retry of a refusal


def test_an_access_error_writes_nothing(instance, operators, staff, odoo) -> None:
    odoo.denied.add(("api@example.com", "res.users"))
    with pytest.raises(OdooError, match="denied access"):
        users_sync(instance=instance)
    assert not User.objects.exists()


def test_an_unreachable_server_is_retried_then_reported(instance, operators) -> None:
    instance.url = f"http://127.0.0.1:{free_port()}"
    instance.save()
    with pytest.raises(OdooError, match="cannot be reached"):
        users_sync(instance=instance)
    assert not User.objects.exists()


def test_the_scheduled_sync_runs_instances_with_sync_on(
    instance, operators, staff, settings
) -> None:
    assert users_sync_all() == {}
    instance.sync_users = True
    instance.save()
    assert users_sync_all() == {"ERP": "2 to create, 0 to update, 0 to deactivate, 0 skipped"}
    settings.ODOO_ENABLED = False
    assert users_sync_all() == {}


def test_the_beat_task_syncs(instance, operators, staff, celery_eager) -> None:
    instance.sync_users = True
    instance.save()
    assert sync_users.delay().get() == {
        "ERP": "2 to create, 0 to update, 0 to deactivate, 0 skipped"
    }


def test_no_mapping_refuses_to_sync_rather_than_deactivate_everyone(
    instance, operators, staff
) -> None:
    users_sync(instance=instance)
    instance.group_mappings.all().delete()
    with pytest.raises(OdooError, match="has no group mappings"):
        users_sync(instance=instance)
    assert User.objects.filter(is_active=True).count() == 2


def test_a_mapped_group_gone_from_odoo_stops_the_sync(instance, operators, staff, odoo) -> None:
    users_sync(instance=instance)
    del odoo.records["ir.model.data"][2]  # base.group_system no longer found
    plan = users_sync(instance=instance, dry_run=True)
    assert plan.unresolved_groups == ["base.group_system"]
    assert logins(plan.deactivate) == ["anna@example.com", "bruno"]  # what it would do
    with pytest.raises(OdooError, match=r"Odoo groups not found: base\.group_system"):
        users_sync(instance=instance)
    assert User.objects.filter(is_active=True).count() == 2


def test_planning_reads_a_fixed_number_of_queries(
    instance, operators, odoo, django_assert_max_num_queries
) -> None:
    for n in range(30):
        odoo.add_user(f"user{n}", f"User {n}", groups=[SETTINGS_GROUP])
    users_sync(instance=instance)
    for n in range(30):
        odoo.records["res.users"][n + 3]["name"] = f"Renamed {n}"
    with django_assert_max_num_queries(12):  # one per user would be 30 and more
        plan = users_sync(instance=instance, dry_run=True)
    assert len(plan.update) == 30
