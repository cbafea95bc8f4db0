"""The operations registry: one spec per supported command, each reachable, effects once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from apps.chargers.models import ChargingStation, DataTransfer
from apps.commands.catalog import supported_commands
from apps.commands.forms import OperationForm
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import (
    Operation,
    effects_for,
    operation_for_action,
    operations,
    per_version,
    register,
    registered_actions,
)
from apps.commands.services import command_complete
from apps.protocol.versions import V16, V21, V201

VERSIONS = {V16: "ocpp1.6", V201: "ocpp2.0.1", V21: "ocpp2.1"}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_each_supported_command_has_exactly_one_operation_with_a_form(version):
    for action in sorted(supported_commands(version)):
        owners = [
            operation
            for operation in operations()
            if operation.primary and action in operation.actions_for(version)
        ]
        assert len(owners) == 1, (version, action, [owner.name for owner in owners])
        assert issubclass(owners[0].form, OperationForm)
        assert owners[0].form.operation == owners[0].name
    assert registered_actions(version) == supported_commands(version)


@pytest.mark.django_db
@pytest.mark.parametrize("version", list(VERSIONS))
def test_each_supported_command_is_reachable_from_the_station_page(admin_client, version):
    station = ChargingStation.objects.create(charger_id="REG-1", ocpp_version=VERSIONS[version])
    page = admin_client.get(reverse("admin:chargers_chargingstation_change", args=[station.pk]))
    html = page.content.decode()
    for action in sorted(supported_commands(version)):
        operation = operation_for_action(version=version, action=action)
        url = reverse("admin:chargers_chargingstation_command", args=[station.pk, operation.name])
        assert html.count(f'href="{url}"') == 1, action
        form_page = admin_client.get(url)
        assert form_page.status_code == 200
        choices = form_page.context["raw_form"].fields["action"].choices
        assert action in [choice for choice, _ in choices]


def test_operation_names_are_unique():
    names = [operation.name for operation in operations()]
    assert len(names) == len(set(names))


def test_a_second_operation_with_a_taken_name_is_refused():
    taken = operations()[0]
    with pytest.raises(ImproperlyConfigured, match="registered twice"):
        register(Operation(**{**taken.__dict__}))
    assert operations().count(taken) == 1


def test_a_second_primary_owner_of_an_action_is_refused():
    reset = operation_for_action(version=V16, action="Reset")
    intruder = Operation(
        name="reset_again",
        label="Reset again",
        help_text="",
        actions=per_version(("Reset",), ()),
        form=reset.form,
    )
    with pytest.raises(ImproperlyConfigured, match="belongs to 'reset'"):
        register(intruder)
    assert "reset_again" not in [operation.name for operation in operations()]


def test_each_effect_is_registered_once():
    for action in {action for operation in operations() for action in operation.effects}:
        effects = effects_for(action)
        assert len(effects) == len(set(effects)), action
    # A ChangeConfiguration answer records the key and may promote a rotated password.
    assert len(effects_for("ChangeConfiguration")) == 2


@pytest.mark.django_db
def test_an_answer_s_effect_is_applied_once():
    station = ChargingStation.objects.create(charger_id="REG-DT", ocpp_version="ocpp1.6")
    command = ChargerCommand.objects.create(
        station=station,
        action="DataTransfer",
        payload={"vendorId": "com.example", "messageId": "Ping", "data": "x"},
        status=CommandStatus.SENT,
        timeout_s=5,
    )
    command_complete(command=command, response={"status": "Accepted", "data": "pong"})
    [transfer] = DataTransfer.objects.filter(station=station)
    assert (transfer.vendor_id, transfer.message_id, transfer.status) == (
        "com.example",
        "Ping",
        "Accepted",
    )
