"""REST API of commands to chargers: send one (optionally waiting for its outcome), list, poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.models import ChargingStation
from apps.chargers.scoped import SiteScopedApiMixin, require_visible_station
from apps.commands.models import ChargerCommand
from apps.commands.registry import run_operation, runnable_names
from apps.commands.services import CommandError, command_wait, send_command
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter

MAX_WAIT_S = 60.0

WAIT_PARAMETER = OpenApiParameter(
    "wait",
    OpenApiTypes.FLOAT,
    OpenApiParameter.QUERY,
    description=(
        f"Seconds (0 < wait <= {MAX_WAIT_S:g}) to wait for the charger's answer before "
        "replying; the command is returned as it is then, final or not."
    ),
)


class CommandSerializer(ApiModelSerializer):
    """A command sent to a charger and, once final, its outcome."""

    charger = serializers.CharField(source="station.charger_id", read_only=True)
    timeout = serializers.FloatField(source="timeout_s", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True
    )
    is_final = serializers.BooleanField(read_only=True)

    class Meta:
        model = ChargerCommand
        fields = [
            "id",
            "charger",
            "action",
            "payload",
            "status",
            "is_final",
            "response",
            "error_code",
            "error_description",
            "timeout",
            "source",
            "requested_by",
            "message_id",
            "created_at",
            "sent_at",
            "completed_at",
        ]
        read_only_fields = fields


class CommandRequestSerializer(serializers.Serializer):
    """What to send: the charger, the OCPP action and its payload (camelCase, as in OCPP)."""

    charger = serializers.SlugRelatedField(
        slug_field="charger_id",
        queryset=ChargingStation.objects.all(),
        help_text="Charger id of the station.",
        error_messages={"does_not_exist": "No charger with id {value!r}."},
    )
    action = serializers.CharField(max_length=64, help_text="OCPP action, e.g. Reset.")
    payload = serializers.DictField(
        required=False,
        default=dict,
        help_text='The OCPP request payload, e.g. {"type": "Soft"}.',
    )
    timeout = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.1,
        max_value=3600,
        help_text="Seconds to wait for the charger's answer (default OCPP_COMMAND_TIMEOUT).",
    )


class OperationRequestSerializer(serializers.Serializer):
    """A version-neutral operation for a charger (see apps/commands/registry.py)."""

    charger = serializers.SlugRelatedField(
        slug_field="charger_id", queryset=ChargingStation.objects.all()
    )
    operation = serializers.ChoiceField(choices=[])
    arguments = serializers.DictField(
        default=dict,
        help_text=(
            "remote_start: id_tag, connector_id?; remote_stop: transaction_id; "
            "change_availability: connector_id, operative; reset: hard?; unlock: connector_id; "
            "set_configuration: key, value; get_configuration: keys?; get_report: criteria?, "
            "components?; trigger_message: message, connector_id?; clear_cache; "
            "data_transfer: vendor_id, message_id?, data?; get_local_list_version; "
            "get_transaction_status: transaction_id?"
        ),
    )
    timeout = serializers.FloatField(required=False, min_value=0.1, max_value=600)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The apps register their operations when Django is ready, after this module loads.
        self.fields["operation"].choices = runnable_names()


def _wait_seconds(request: Request) -> float:
    """Return `?wait=` in seconds, 0 when absent; a value outside (0, 60] is a 400."""
    raw = request.query_params.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_WAIT_S:  # also refuses nan
        raise serializers.ValidationError(
            {"wait": [f"Must be a number of seconds, 0 < wait <= {MAX_WAIT_S:g}."]}
        )
    return value


class CommandViewSet(
    SiteScopedApiMixin,
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Commands sent to chargers, newest first; POST sends one."""

    queryset = ChargerCommand.objects.select_related("station", "requested_by")
    parser_classes = [JSONParser]  # payload is a JSON object: forms cannot carry it
    query_filters = {
        "station": QueryFilter("station__charger_id", description="Charger id of the station"),
        "status": QueryFilter(
            "status", description="pending, sent, accepted, rejected, error, timeout, offline"
        ),
        "action": QueryFilter("action", description="OCPP action, e.g. Reset"),
    }

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return CommandRequestSerializer if self.action == "create" else CommandSerializer

    @extend_schema(
        request=CommandRequestSerializer,
        parameters=[WAIT_PARAMETER],
        responses={
            201: CommandSerializer,
            400: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="Unknown charger or action, payload that breaks the OCPP schema.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        """Send a command to a charger; an offline charger gets status offline at once."""
        given = CommandRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        require_visible_station(request.user, data["charger"])  # another site's: 404
        return self._send(
            request,
            lambda **options: send_command(
                station=data["charger"],
                action=data["action"],
                payload=data["payload"],
                timeout=data.get("timeout"),
                **options,
            ),
        )

    @extend_schema(
        request=OperationRequestSerializer,
        parameters=[WAIT_PARAMETER],
        responses={201: CommandSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"], url_path="operations")
    def operations(self, request: Request) -> Response:
        """Run a version-neutral operation: the right action and payload for the charger."""
        given = OperationRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        require_visible_station(request.user, data["charger"])  # another site's: 404
        return self._send(
            request,
            lambda **options: run_operation(
                station=data["charger"],
                operation=data["operation"],
                arguments=data["arguments"],
                timeout=data.get("timeout"),
                **options,
            ),
        )

    def _send(self, request: Request, send: Callable[..., ChargerCommand]) -> Response:
        """Send as the request's user; answer 201 with the command (after `?wait=`) or 400."""
        wait_s = _wait_seconds(request)
        try:
            command = send(requested_by=request.user, source="api")
        except CommandError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if wait_s:
            command = command_wait(command=command, wait_s=wait_s)
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WAIT_PARAMETER])
    def retrieve(self, request: Request, pk: str) -> Response:
        """Return the command; with `?wait=N`, once it has an outcome or N seconds have passed."""
        wait_s = _wait_seconds(request)
        command = self.get_object()
        if wait_s and not command.is_final:
            command = command_wait(command=command, wait_s=wait_s)
        return Response(CommandSerializer(command).data)
