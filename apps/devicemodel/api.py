"""REST API of a station's configuration (1.6 keys and 2.x variables) under /chargers/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chargers.api import ChargerViewSet
from apps.devicemodel.selectors import station_configuration


class ConfigurationEntrySerializer(serializers.Serializer):
    """A configuration value: a 1.6 key or a 2.x variable (`Component/Variable`)."""

    key = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    readonly = serializers.BooleanField()
    known = serializers.BooleanField()
    status = serializers.CharField(help_text="Answer to the last read or change of it.")
    source = serializers.CharField(help_text='"1.6 key" or "2.x variable"')
    updated_at = serializers.DateTimeField()


class ChargerConfigurationViewSet(ChargerViewSet):
    # The chargers app's stations plus their configuration, which the device model reads:
    # registered at /chargers/ in config/api.py. The docstring is the stations' own.
    __doc__ = ChargerViewSet.__doc__

    @extend_schema(responses=ConfigurationEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def configuration(self, request: Request, charger_id: str) -> Response:
        """List the station's configuration: 1.6 keys and 2.x variables, as last read or set."""
        entries = station_configuration(station=self.get_object())
        return Response(ConfigurationEntrySerializer(entries, many=True).data)
