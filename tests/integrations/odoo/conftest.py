from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group

from apps.integrations.odoo.models import GroupMapping, OdooInstance
from tests.integrations.odoo.fake_odoo import (
    DB,
    SERVICE_KEY,
    SERVICE_LOGIN,
    FakeOdoo,
    FakeOdooServer,
)


@pytest.fixture(scope="session")
def odoo_server() -> Iterator[FakeOdoo]:
    with FakeOdooServer() as state:
        yield state


@pytest.fixture
def odoo(odoo_server: FakeOdoo, settings) -> FakeOdoo:
    odoo_server.reset()
    settings.ODOO_ENABLED = True
    settings.ODOO_TIMEOUT = 5.0
    settings.ODOO_RETRIES = 2
    settings.ODOO_RETRY_BACKOFF = 0.0  # retries at once: tests count them, never wait
    return odoo_server


@pytest.fixture
def instance(db, odoo: FakeOdoo) -> OdooInstance:
    inst = OdooInstance(name="ERP", url=odoo.base, database=DB, username=SERVICE_LOGIN)
    inst.set_api_key(SERVICE_KEY)
    inst.save()
    return inst


@pytest.fixture
def operators(instance: OdooInstance) -> Group:
    """Odoo's Settings group (by external id) makes an admin operator of group Operators."""
    group = Group.objects.create(name="Operators")
    GroupMapping.objects.create(
        instance=instance, odoo_group="base.group_system", django_group=group, staff=True
    )
    return group


@pytest.fixture
def sales(instance: OdooInstance) -> Group:
    """Odoo's "Sales / Administrator" (by name) makes a member of group Sales."""
    group = Group.objects.create(name="Sales")
    GroupMapping.objects.create(
        instance=instance, odoo_group="Sales / Administrator", django_group=group, staff=True
    )
    return group
