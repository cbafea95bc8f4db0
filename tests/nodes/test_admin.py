"""This node's admin page: its record, each feature's state, the switches and the role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from apps.hardware.models import ServiceStatus
from apps.nodes import features
from apps.nodes.models import FeatureSwitch, Node, Role
from apps.nodes.services import this_node
from tests.nodes.conftest import DevTree

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(dev_tree: DevTree, settings) -> Node:
    settings.NODE_ROLE = Role.CONTROL
    settings.NODE_NAME = "pi-by-charger"
    return this_node()


def page_url(node: Node) -> str:
    return reverse("admin:nodes_node_change", args=[node.pk])


def test_the_node_list_leads_to_this_nodes_page(node: Node, staff_client) -> None:
    client = staff_client("nodes.view_node")
    response = client.get(reverse("admin:nodes_node_changelist"))
    assert response.status_code == 302
    assert response["Location"] == page_url(node)


def test_the_page_shows_the_node_and_each_features_state(node: Node, staff_client) -> None:
    ServiceStatus.objects.create(
        name="rfid-reader", feature="rfid-scanner", state="idle", detail="", restarts=2
    )
    client = staff_client("nodes.view_node", "hardware.view_servicestatus")
    response = client.get(page_url(node))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("pi-by-charger", "Control", node.hostname, node.version):
        assert text in html
    for slug, feature in features.CATALOGUE.items():
        assert f'id="feature-{slug}"' in html
        assert escape(str(feature.description)) in html
    assert "off (auto), not detected: no I2C bus at /dev/i2c-1" in html
    # The hardware app's panel: its services' states.
    assert 'id="service-rfid-reader"' in html
    assert "idle (feature off)" in html
    # Read-only for this user: no switch, no role form.
    assert 'name="mode"' not in html
    assert 'id="node-role-form"' not in html


def test_the_services_panel_needs_its_own_permission(node: Node, staff_client) -> None:
    ServiceStatus.objects.create(name="lcd", feature="lcd-screen", state="running")
    html = staff_client("nodes.view_node").get(page_url(node)).content.decode()
    assert 'id="hardware-services"' not in html


def test_a_staff_user_with_the_permission_switches_a_feature(node: Node, staff_client) -> None:
    client = staff_client("nodes.change_featureswitch")
    page = client.get(page_url(node))
    assert page.status_code == 200
    assert 'name="mode"' in page.content.decode()
    response = client.post(
        page_url(node), {"action": "switch", "slug": "lcd-screen", "mode": "on"}, follow=True
    )
    assert response.status_code == 200
    switch = FeatureSwitch.objects.get(node=node, slug="lcd-screen")
    assert switch.mode == "on"
    assert switch.changed_by == response.wsgi_request.user.username
    html = response.content.decode()
    assert "LCD Screen switched to on." in html
    assert "on, not detected: no I2C bus at /dev/i2c-1" in html
    assert features.feature_active(features.LCD_SCREEN)
    assert LogEntry.objects.get().change_message == "lcd-screen=on"


def test_a_bad_switch_is_refused_with_a_message(node: Node, staff_client) -> None:
    client = staff_client("nodes.change_featureswitch")
    response = client.post(
        page_url(node), {"action": "switch", "slug": "lcd", "mode": "on"}, follow=True
    )
    assert "Select a valid choice. lcd is not one of the available choices." in (
        response.content.decode()
    )
    assert not FeatureSwitch.objects.exists()
    assert client.post(page_url(node), {"action": "explode"}).status_code == 400


def test_switching_is_refused_without_the_permission(node: Node, staff_client) -> None:
    client = staff_client("nodes.view_node", "nodes.change_node")
    response = client.post(page_url(node), {"action": "switch", "slug": "lcd-screen", "mode": "on"})
    assert response.status_code == 403
    assert not FeatureSwitch.objects.exists()


def test_the_role_changes_with_the_node_change_permission(node: Node, staff_client) -> None:
    client = staff_client("nodes.change_node")
    assert 'id="node-role-form"' in client.get(page_url(node)).content.decode()
    response = client.post(page_url(node), {"action": "role", "role": "satellite"}, follow=True)
    assert "This node&#x27;s role is now Satellite." in response.content.decode()
    assert Node.objects.get(pk=node.pk).role == Role.SATELLITE
    refused = staff_client("nodes.change_featureswitch").post(
        page_url(node), {"action": "role", "role": "terminal"}
    )
    assert refused.status_code == 403
    assert Node.objects.get(pk=node.pk).role == Role.SATELLITE


def test_without_any_node_permission_the_page_is_refused(node: Node, staff_client) -> None:
    client = staff_client("chargers.view_chargingstation")
    assert client.get(page_url(node)).status_code == 403
    assert client.get(reverse("admin:nodes_node_changelist")).status_code == 403
    assert client.post(page_url(node), {"action": "role", "role": "terminal"}).status_code == 403


def test_nodes_are_neither_added_nor_deleted_by_hand(
    node: Node, staff_client, django_user_model
) -> None:
    client = staff_client("nodes.add_node", "nodes.delete_node", "nodes.change_node")
    assert client.get(reverse("admin:nodes_node_add")).status_code == 403
    assert client.post(reverse("admin:nodes_node_delete", args=[node.pk])).status_code == 403
    assert Node.objects.filter(pk=node.pk).exists()


@pytest.fixture
def back_to_english() -> Iterator[None]:
    """The locale middleware leaves the request's language active in this thread: reset it."""
    yield
    translation.deactivate()


def test_the_page_speaks_italian(node: Node, staff_client, back_to_english: None) -> None:
    client = staff_client("nodes.change_featureswitch")
    html = client.get(page_url(node), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Funzionalità" in html
    assert "spento (auto), non rilevato: nessun bus I2C in /dev/i2c-1" in html
