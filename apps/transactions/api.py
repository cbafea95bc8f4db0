"""REST API of charging sessions and their meter values (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.scoped import SiteScopedApiMixin
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter
from apps.transactions.labels import cost_text
from apps.transactions.models import MeterValue, Transaction


class TransactionSerializer(ApiModelSerializer):
    """A charging session; energy_wh is meter stop minus meter start once stopped."""

    charger = serializers.CharField(source="station.charger_id", read_only=True)
    connector_id = serializers.IntegerField(
        source="connector.connector_id", read_only=True, allow_null=True
    )
    is_active = serializers.BooleanField(read_only=True)
    energy_wh = serializers.IntegerField(read_only=True, allow_null=True)
    cost = serializers.SerializerMethodField(
        help_text="Gross cost (VAT included) in `currency`, once priced; null before."
    )
    currency = serializers.CharField(source="tariff.currency", read_only=True, allow_null=True)
    tariff = serializers.CharField(source="tariff.__str__", read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "transaction_id",
            "charger",
            "connector_id",
            "id_tag",
            "authorization_status",
            "authorization_reason",
            "account",
            "reservation_id",
            "meter_start_wh",
            "meter_stop_wh",
            "energy_wh",
            "started_at",
            "stopped_at",
            "stop_reason",
            "stop_id_tag",
            "cost",
            "currency",
            "tariff",
            "is_active",
            "charging_state",
            "remote_start_id",
            "offline",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_cost(self, obj: Transaction) -> str | None:
        return cost_text(obj)


class MeterValueSerializer(ApiModelSerializer):
    """One sampled value as reported, with its value normalised (Wh, W, A, ...)."""

    class Meta:
        model = MeterValue
        fields = [
            "timestamp",
            "connector_id",
            "measurand",
            "phase",
            "location",
            "context",
            "format",
            "value",
            "multiplier",
            "unit",
            "normalized_value",
            "normalized_unit",
        ]
        read_only_fields = fields


class TransactionViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Charging sessions, newest first."""

    queryset = Transaction.objects.select_related("station", "connector", "tariff")
    serializer_class = TransactionSerializer
    query_filters = {
        "station": QueryFilter("station__charger_id", description="Charger id of the station"),
        "active": QueryFilter("stopped_at__isnull", bool, "true: still charging; false: ended"),
        "id_tag": QueryFilter("id_tag", description="Id tag that started the session"),
    }

    @extend_schema(responses=MeterValueSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="meter-values", filter_backends=[])
    def meter_values(self, request: Request, pk: str) -> Response:
        """List the session's sampled values in time order, a page at a time."""
        values = MeterValue.objects.filter(transaction=self.get_object()).order_by(
            "timestamp", "id"
        )
        page = self.paginate_queryset(values)
        return self.get_paginated_response(MeterValueSerializer(page, many=True).data)
