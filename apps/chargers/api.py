"""REST API of charging stations and their connectors (configuration: apps/devicemodel/api.py)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import filters, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.models import ChargingStation, Connector, RegistrationStatus
from apps.chargers.scoped import SiteScopedApiMixin
from apps.chargers.services import station_set_registration
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter, require_perms

# Charger ids come from the charger's websocket URL: any character but "/" may appear.
CHARGER_ID_REGEX = r"[^/]+"


class ConnectorSerializer(ApiModelSerializer):
    """A connector with its last reported status and its availability."""

    charger = serializers.CharField(source="station.charger_id", read_only=True)

    class Meta:
        model = Connector
        fields = [
            "id",
            "charger",
            "connector_id",
            "evse_connector_id",
            "status",
            "error_code",
            "info",
            "vendor_id",
            "vendor_error_code",
            "status_at",
            "availability",
            "availability_scheduled",
            "updated_at",
        ]
        read_only_fields = fields


class NestedConnectorSerializer(ConnectorSerializer):
    """A connector inside its station: the station is already known."""

    class Meta(ConnectorSerializer.Meta):
        fields = [f for f in ConnectorSerializer.Meta.fields if f != "charger"]
        read_only_fields = fields


class ChargerSerializer(ApiModelSerializer):
    """A charging station: identity, registration and connection state."""

    class Meta:
        model = ChargingStation
        fields = [
            "charger_id",
            "name",
            "registration_status",
            "ocpp_version",
            "preferred_ocpp_version",
            "free_charging",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "is_connected",
            "connected_at",
            "disconnected_at",
            "last_boot_at",
            "last_boot_reason",
            "last_heartbeat_at",
            "last_seen_at",
            "created_at",
        ]
        read_only_fields = fields


class ChargerDetailSerializer(ChargerSerializer):
    """A charging station with its hardware details, upload progress and connectors."""

    connectors = NestedConnectorSerializer(many=True, read_only=True)

    class Meta(ChargerSerializer.Meta):
        fields = [
            *ChargerSerializer.Meta.fields,
            "charge_box_serial_number",
            "iccid",
            "imsi",
            "meter_type",
            "meter_serial_number",
            "firmware_status",
            "firmware_status_at",
            "diagnostics_status",
            "diagnostics_status_at",
            "local_list_version",
            "connectors",
        ]
        read_only_fields = fields


_change_station = require_perms("chargers.change_chargingstation")


class ChargerViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Charging stations, addressed by their charger id; approve or reject their registration."""

    station_path = ""  # the model is the station

    queryset = ChargingStation.objects.all()
    lookup_field = "charger_id"
    lookup_value_regex = CHARGER_ID_REGEX
    filter_backends = [*ApiViewMixin.filter_backends, filters.SearchFilter]
    search_fields = ["charger_id"]
    query_filters = {
        "registration_status": QueryFilter(
            "registration_status", description="Pending, Accepted or Rejected"
        ),
        "is_connected": QueryFilter("is_connected", bool, "Whether the charger is online"),
    }

    def get_queryset(self) -> QuerySet[ChargingStation]:
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("connectors")
        return queryset

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ChargerSerializer if self.action == "list" else ChargerDetailSerializer

    @extend_schema(request=None, responses=ChargerDetailSerializer)
    @action(detail=True, methods=["post"], permission_classes=[_change_station])
    def approve(self, request: Request, charger_id: str) -> Response:
        """Accept the station: it is told Accepted at its next BootNotification."""
        return self._set_registration(RegistrationStatus.ACCEPTED)

    @extend_schema(request=None, responses=ChargerDetailSerializer)
    @action(detail=True, methods=["post"], permission_classes=[_change_station])
    def reject(self, request: Request, charger_id: str) -> Response:
        """Refuse the station: it is told Rejected at its next BootNotification."""
        return self._set_registration(RegistrationStatus.REJECTED)

    def _set_registration(self, status: str) -> Response:
        station = station_set_registration(station=self.get_object(), status=status)
        return Response(ChargerDetailSerializer(station).data)

    @extend_schema(responses=NestedConnectorSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def connectors(self, request: Request, charger_id: str) -> Response:
        """List the station's connectors with status and availability (0 is the station)."""
        station = self.get_object()
        return Response(NestedConnectorSerializer(station.connectors.all(), many=True).data)


class ConnectorViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Connectors of every station with their last reported status."""

    queryset = Connector.objects.select_related("station")
    serializer_class = ConnectorSerializer
    query_filters = {
        "station": QueryFilter("station__charger_id", description="Charger id of the station"),
        "status": QueryFilter("status", description="Status last reported, e.g. Available"),
    }
