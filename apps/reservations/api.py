"""REST API of reservations: list, read, reserve (sends ReserveNow), cancel."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.models import ChargingStation
from apps.chargers.scoped import SiteScopedApiMixin, require_visible_station
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter, require_perms
from apps.reservations.models import Reservation
from apps.reservations.services import ReservationError, reservation_cancel, reservation_create


class ReservationSerializer(ApiModelSerializer):
    charger = serializers.CharField(source="station.charger_id", read_only=True)
    connector_id = serializers.IntegerField(
        source="connector.connector_id", read_only=True, allow_null=True
    )
    command_status = serializers.CharField(source="command.status", read_only=True, allow_null=True)
    cancel_command_status = serializers.CharField(
        source="cancel_command.status", read_only=True, allow_null=True
    )
    transaction_id = serializers.CharField(
        source="transaction.transaction_id", read_only=True, allow_null=True
    )
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = Reservation
        fields = [
            "id",
            "reservation_id",
            "charger",
            "connector_id",
            "id_tag",
            "parent_id_tag",
            "expires_at",
            "status",
            "command",
            "command_status",
            "cancel_command",
            "cancel_command_status",
            "transaction_id",
            "requested_by",
            "created_at",
        ]
        read_only_fields = fields


class ReservationRequestSerializer(serializers.Serializer):
    """What to reserve: the charger, optionally the connector, the id tag, until when."""

    charger = serializers.SlugRelatedField(
        slug_field="charger_id",
        queryset=ChargingStation.objects.all(),
        help_text="Charger id of the station.",
        error_messages={"does_not_exist": "No charger with id {value!r}."},
    )
    connector_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text=(
            "Connector (OCPP 2.x: EVSE) to reserve; omitted: the first free one; "
            "0: any (if supported)."
        ),
    )
    # 36: an OCPP 2.x idToken; a 1.6 station refuses more than 20 (the schema check says so).
    id_tag = serializers.CharField(max_length=36)
    parent_id_tag = serializers.CharField(
        max_length=36, required=False, default="", allow_blank=True
    )
    expires_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")


class ReservationViewSet(
    SiteScopedApiMixin,
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Connector reservations, newest first; POST reserves, POST {id}/cancel/ cancels."""

    queryset = Reservation.objects.select_related(
        "station", "connector", "command", "cancel_command", "transaction", "requested_by"
    )
    serializer_class = ReservationSerializer
    query_filters = {
        "station": QueryFilter("station__charger_id", description="Charger id of the station"),
        "status": QueryFilter(
            "status",
            description="pending, accepted, rejected, faulted, occupied, unavailable, "
            "cancelled, expired, used",
        ),
        "id_tag": QueryFilter("id_tag", description="Id tag the reservation is for"),
    }

    def get_permissions(self) -> list:
        if self.action == "cancel":
            return [require_perms("reservations.change_reservation")()]
        return super().get_permissions()

    @extend_schema(
        request=ReservationRequestSerializer,
        responses={
            201: ReservationSerializer,
            400: OpenApiResponse(description="No free connector, expiry in the past, ..."),
        },
    )
    def create(self, request: Request) -> Response:
        """Reserve a connector: stores the reservation and sends ReserveNow (status pending)."""
        given = ReservationRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        require_visible_station(request.user, data["charger"])  # another site's: 404
        try:
            reservation = reservation_create(
                station=data["charger"],
                connector_id=data.get("connector_id"),
                id_tag=data["id_tag"],
                parent_id_tag=data["parent_id_tag"],
                expires_at=data["expires_at"],
                requested_by=request.user,
                source="api",
            )
        except ReservationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        # The reservation as stored when ReserveNow left: a re-read could already hold the
        # charger's answer (the command is sent at commit), and the answer is documented as pending.
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            202: ReservationSerializer,
            400: OpenApiResponse(description="The reservation is no longer active."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Send CancelReservation; the reservation becomes cancelled when the station accepts."""
        reservation = self.get_object()
        try:
            reservation_cancel(reservation=reservation, requested_by=request.user, source="api")
        except ReservationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        reservation = self.get_queryset().get(pk=reservation.pk)
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_202_ACCEPTED)
