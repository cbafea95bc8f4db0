"""Each update channel's beat job (django-celery-beat rows), the seeded policy, the admin."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from apps.core.timeutil import utcnow
from apps.lifecycle.models import UpdatePolicy, Upgrade
from apps.lifecycle.schedules import CHECK_TASK, CHECK_TASK_NAME
from apps.lifecycle.selectors import channel_current
from apps.lifecycle.services import channel_set, policy_ensure

pytestmark = pytest.mark.django_db


def check_task() -> PeriodicTask | None:
    return PeriodicTask.objects.select_related("crontab").filter(name=CHECK_TASK_NAME).first()


def crontab_of(task: PeriodicTask) -> tuple[str, str, str, str, str, str]:
    c = task.crontab
    return (c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, str(c.timezone))


@pytest.mark.parametrize(
    ("channel", "crontab"),
    [
        # Thursday (cron: 0 = Sunday) 04:30, before 05:00 local time.
        ("stable", ("30", "4", "4", "*", "*", "UTC")),
        ("latest", ("30", "4", "*", "*", "*", "UTC")),
        ("unstable", ("*/15", "*", "*", "*", "*", "UTC")),
    ],
)
def test_each_channel_checks_on_its_schedule(channel: str, crontab: tuple) -> None:
    channel_set(channel=channel, by="test")
    task = check_task()
    assert task is not None and task.enabled
    assert task.task == CHECK_TASK
    assert task.interval is None
    assert crontab_of(task) == crontab
    assert channel_current() == channel


def test_the_fixed_channel_has_no_check_at_all() -> None:
    channel_set(channel="stable")
    channel_set(channel="fixed")
    assert check_task() is None
    assert channel_current() == "fixed"


def test_local_time_is_the_nodes_time_zone() -> None:
    with override_settings(TIME_ZONE="Europe/Rome"):
        channel_set(channel="stable")
    assert crontab_of(check_task()) == ("30", "4", "4", "*", "*", "Europe/Rome")


def test_switching_channels_keeps_one_job() -> None:
    for channel in ("stable", "unstable", "latest", "unstable"):
        channel_set(channel=channel)
    assert PeriodicTask.objects.filter(task=CHECK_TASK).count() == 1
    assert crontab_of(check_task())[0] == "*/15"


def test_it_refuses_an_unknown_channel() -> None:
    with pytest.raises(ValueError, match="unknown channel 'weekly'"):
        channel_set(channel="weekly")


def test_the_first_migrate_seeds_the_channel_from_the_setting_then_the_row_rules() -> None:
    # The test database was migrated with the default: fixed, no job.
    assert UpdatePolicy.objects.get().channel == "fixed"
    assert check_task() is None
    UpdatePolicy.objects.all().delete()
    with override_settings(UPDATE_CHANNEL="latest"):
        assert policy_ensure().channel == "latest"
        assert crontab_of(check_task())[:3] == ("30", "4", "*")
    with override_settings(UPDATE_CHANNEL="unstable"):
        assert policy_ensure().channel == "latest"  # the row, not the setting


def test_the_admin_shows_the_history_with_its_log_read_only(client, make_user) -> None:
    upgrade = Upgrade.objects.create(
        channel="stable",
        from_version="v0.1.0",
        to_version="v0.2.1",
        started_at=utcnow(),
        finished_at=utcnow(),
        result=Upgrade.Result.ROLLED_BACK,
        detail="migrate failed",
        log="== migrating\nRuntimeError: <broken> on purpose\n",
    )
    viewer = make_user("lifecycle.view_upgrade")
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    listing = client.get(reverse("admin:lifecycle_upgrade_changelist"))
    assert listing.status_code == 200
    assert "v0.2.1" in listing.content.decode()
    page = client.get(reverse("admin:lifecycle_upgrade_change", args=[upgrade.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "RuntimeError: &lt;broken&gt; on purpose" in body  # escaped
    assert 'name="_save"' not in body
    assert client.post(reverse("admin:lifecycle_upgrade_add")).status_code == 403
    assert (
        client.post(reverse("admin:lifecycle_upgrade_delete", args=[upgrade.pk])).status_code == 403
    )


def test_the_admin_needs_a_permission_to_see_the_history(client, make_user) -> None:
    staff = make_user()
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    assert client.get(reverse("admin:lifecycle_upgrade_changelist")).status_code == 403
    assert client.get(reverse("admin:lifecycle_updatepolicy_changelist")).status_code == 403


def test_changing_the_channel_in_the_admin_changes_the_job(client, make_user) -> None:
    operator = make_user("lifecycle.view_updatepolicy", "lifecycle.change_updatepolicy")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    client.force_login(operator)
    url = reverse("admin:lifecycle_updatepolicy_change", args=[1])
    answer = client.post(url, {"channel": "unstable"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    policy = UpdatePolicy.objects.get()
    assert (policy.channel, policy.changed_by) == ("unstable", operator.username)
    assert crontab_of(check_task())[0] == "*/15"


def test_the_history_speaks_italian(client, make_user) -> None:
    Upgrade.objects.create(channel="stable", started_at=utcnow(), result=Upgrade.Result.UPGRADED)
    viewer = make_user("lifecycle.view_upgrade")
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    body = client.get(
        reverse("admin:lifecycle_upgrade_changelist"), HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    assert "aggiornato" in body  # the result
    assert "Esito" in body and "Dalla versione" in body


def test_a_wrong_update_channel_setting_is_a_configuration_error() -> None:
    from apps.lifecycle.checks import check_update_channel

    assert check_update_channel() == []
    with override_settings(UPDATE_CHANNEL="weekly"):
        [error] = check_update_channel()
    assert error.id == "lifecycle.E001"
    assert "'weekly' is not an update channel" in error.msg
