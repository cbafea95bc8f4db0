"""REST API of security events (read-only): what stations reported and what the CSMS saw."""

from __future__ import annotations

from rest_framework import viewsets

from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter
from apps.security.models import SecurityEvent


class SecurityEventSerializer(ApiModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "charger_id",
            "source",
            "event_type",
            "tech_info",
            "occurred_at",
            "created_at",
        ]
        read_only_fields = fields


class SecurityEventViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Security events, newest first; filter by charger, source and type."""

    queryset = SecurityEvent.objects.all()
    serializer_class = SecurityEventSerializer
    query_filters = {
        "charger": QueryFilter("charger_id", description="Charger id"),
        "source": QueryFilter("source", description="station or csms"),
        "event_type": QueryFilter("event_type", description="e.g. FailedToAuthenticateAtCsms"),
    }
