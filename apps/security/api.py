"""REST API of security: events (what stations reported and the CSMS saw) and certificates."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.scoped import SiteScopedApiMixin
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter, require_perms
from apps.security.certificates import REVOCATION_REASONS, issued_certificate_revoke
from apps.security.models import InstalledCertificate, IssuedCertificate, SecurityEvent

_change_certificate = require_perms("security.change_issuedcertificate")


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


class SecurityEventViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Security events, newest first; filter by charger, source and type."""

    queryset = SecurityEvent.objects.all()
    serializer_class = SecurityEventSerializer
    query_filters = {
        "charger": QueryFilter("charger_id", description="Charger id"),
        "source": QueryFilter("source", description="station or csms"),
        "event_type": QueryFilter("event_type", description="e.g. FailedToAuthenticateAtCsms"),
    }


class IssuedCertificateSerializer(ApiModelSerializer):
    """A certificate our CA signed for a station."""

    charger_id = serializers.CharField(source="station.charger_id", read_only=True)
    delivery_status = serializers.CharField(source="delivery.status", default=None)

    class Meta:
        model = IssuedCertificate
        fields = [
            "id",
            "charger_id",
            "kind",
            "serial",
            "subject",
            "not_before",
            "not_after",
            "issued_at",
            "delivery_status",
            "revoked_at",
            "revocation_reason",
            "pem",
        ]
        read_only_fields = fields


class RevokeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=[flag.value for flag in REVOCATION_REASONS], default="unspecified"
    )


class IssuedCertificateViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Certificates the CSMS CA signed for stations, newest first; revoke one."""

    queryset = IssuedCertificate.objects.select_related("station", "delivery")
    serializer_class = IssuedCertificateSerializer
    query_filters = {
        "charger": QueryFilter("station__charger_id", description="Charger id"),
        "kind": QueryFilter("kind", description="ChargingStationCertificate or V2GCertificate"),
    }

    @extend_schema(request=RevokeSerializer, responses=IssuedCertificateSerializer)
    @action(detail=True, methods=["post"], permission_classes=[_change_certificate])
    def revoke(self, request: Request, pk: str) -> Response:
        """Revoke the certificate (RFC 5280 reason); it goes on the CA's CRL."""
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        certificate = self.get_object()
        issued_certificate_revoke(certificate=certificate, reason=body.validated_data["reason"])
        return Response(IssuedCertificateSerializer(certificate).data)


class InstalledCertificateSerializer(ApiModelSerializer):
    """A certificate a station reported installed."""

    charger_id = serializers.CharField(source="station.charger_id", read_only=True)

    class Meta:
        model = InstalledCertificate
        fields = [
            "id",
            "charger_id",
            "certificate_type",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            "reported_at",
        ]
        read_only_fields = fields


class InstalledCertificateViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Certificates stations reported installed (GetInstalledCertificateIds answers)."""

    queryset = InstalledCertificate.objects.select_related("station")
    serializer_class = InstalledCertificateSerializer
    query_filters = {
        "charger": QueryFilter("station__charger_id", description="Charger id"),
        "certificate_type": QueryFilter("certificate_type", description="e.g. CSMSRootCertificate"),
    }
