"""REST API routes, mounted at /api/: resources, token login, OpenAPI schema and docs."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from apps.chargers.api import ConnectorViewSet
from apps.commands.api import CommandViewSet
from apps.core.tokens import TokenObtainView, TokenRevokeView
from apps.devicemodel.api import ChargerConfigurationViewSet
from apps.energy.api import EnergyAccountViewSet, LedgerEntryViewSet
from apps.reservations.api import ReservationViewSet
from apps.rfid.api import IdTagViewSet
from apps.security.api import (
    InstalledCertificateViewSet,
    IssuedCertificateViewSet,
    SecurityEventViewSet,
)
from apps.transactions.api import TransactionViewSet


class Router(DefaultRouter):
    # No ".json" suffix routes: charger ids and id tags may themselves contain dots.
    include_format_suffixes = False


router = Router()
router.register("chargers", ChargerConfigurationViewSet, basename="charger")
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("transactions", TransactionViewSet, basename="transaction")
router.register("id-tags", IdTagViewSet, basename="id-tag")
router.register("commands", CommandViewSet, basename="command")
router.register("energy-accounts", EnergyAccountViewSet, basename="energy-account")
router.register("ledger-entries", LedgerEntryViewSet, basename="ledger-entry")
router.register("reservations", ReservationViewSet, basename="reservation")
router.register("security-events", SecurityEventViewSet, basename="security-event")
router.register("certificates", IssuedCertificateViewSet, basename="issued-certificate")
router.register(
    "installed-certificates", InstalledCertificateViewSet, basename="installed-certificate"
)

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="api-token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="api-token-revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]
