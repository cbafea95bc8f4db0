from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.admin_views import SendThroughServiceAdmin
from apps.commands.models import ChargerCommand
from apps.maintenance.diagnostics import LOG_TYPES, log_request_send
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_updates_with_status
from apps.maintenance.services import MaintenanceError, firmware_update_send, public_base_url
from apps.maintenance.views import file_response


class MaintenanceSendAdmin(SendThroughServiceAdmin):
    """A maintenance record made by sending its command; refusals are MaintenanceErrors."""

    send_errors = (MaintenanceError,)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows change only through services (the station's answers and uploads).
        return False


@admin.register(FirmwareFile)
class FirmwareFileAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "filename", "size", "signed", "sha256", "uploaded_at"]
    search_fields = ["name", "version", "sha256"]
    readonly_fields = ["sha256", "size", "uploaded_at", "download_link"]
    fields = [
        "name",
        "version",
        "file",
        "signature",
        "signing_certificate",
        "download_link",
        "sha256",
        "size",
        "uploaded_at",
    ]

    @admin.display(description=_("signed"), boolean=True)
    def signed(self, obj: FirmwareFile) -> bool:
        return obj.is_signed

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="maintenance_firmwarefile_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        firmware = self.get_object(request, object_id)
        if firmware is None:
            raise Http404
        if not self.has_view_permission(request, firmware):
            raise PermissionDenied
        return file_response(firmware.file, firmware.filename)

    @admin.display(description=_("download"))
    def download_link(self, obj: FirmwareFile) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:maintenance_firmwarefile_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.filename)


class FirmwareUpdateForm(forms.Form):
    station = forms.ModelChoiceField(label=_("station"), queryset=ChargingStation.objects.all())
    firmware = forms.ModelChoiceField(label=_("firmware"), queryset=FirmwareFile.objects.all())
    retrieve_at = forms.SplitDateTimeField(
        label=_("retrieve at"),
        widget=AdminSplitDateTime,
        required=False,
        help_text=_("Blank: now."),
    )
    install_at = forms.SplitDateTimeField(
        label=_("install at"),
        widget=AdminSplitDateTime,
        required=False,
        help_text=_("Optional: OCPP 2.x, and signed firmware to OCPP 1.6 (SignedUpdateFirmware)."),
    )
    retries = forms.IntegerField(label=_("retries"), min_value=0, required=False)
    retry_interval = forms.IntegerField(label=_("retry interval (s)"), min_value=0, required=False)


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(MaintenanceSendAdmin):
    add_form_class = FirmwareUpdateForm
    add_title = _("Send a firmware update")
    list_display = [
        "created_at",
        "station",
        "firmware",
        "retrieve_at",
        "command_status",
        "reported_status",
        "reported_at",
        "requested_by",
    ]
    list_filter = ["station", "firmware", "created_at"]
    list_select_related = ["station", "firmware", "command", "requested_by"]
    search_fields = ["station__charger_id", "firmware__name", "firmware__version"]
    readonly_fields = [
        "station",
        "firmware",
        "command",
        "request_id",
        "retrieve_at",
        "requested_by",
        "created_at",
        "reported_status",
        "reported_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FirmwareUpdate]:
        return firmware_updates_with_status(super().get_queryset(request))

    def send(self, request: HttpRequest, data: dict[str, Any]) -> ChargerCommand:
        return firmware_update_send(
            station=data["station"],
            firmware=data["firmware"],
            base_url=public_base_url(request=request),
            retrieve_at=data["retrieve_at"],
            install_at=data["install_at"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            requested_by=request.user,
            source="admin",
        )

    @admin.display(description=_("UpdateFirmware"), ordering="command__status")
    def command_status(self, obj: FirmwareUpdate) -> str:
        return obj.command.status if obj.command else "-"

    @admin.display(description=_("station reports"), ordering="reported_status")
    def reported_status(self, obj: FirmwareUpdate) -> str:
        return obj.reported_status or "-"

    @admin.display(description=_("reported at"), ordering="reported_at")
    def reported_at(self, obj: FirmwareUpdate) -> Any:
        return obj.reported_at


class DiagnosticsRequestForm(forms.Form):
    station = forms.ModelChoiceField(label=_("station"), queryset=ChargingStation.objects.all())
    log_type = forms.ChoiceField(
        label=_("log type"),
        choices=[(t, t) for t in LOG_TYPES],
        initial=LOG_TYPES[0],
        required=False,
        help_text=_(
            "OCPP 2.x stations get GetLog of this type (DataCollectorLog: 2.1 only). OCPP 1.6 "
            "stations get GetDiagnostics for a DiagnosticsLog, and the security extension's "
            "GetLog for a SecurityLog."
        ),
    )
    get_log = forms.BooleanField(
        label=_("use GetLog (security extension)"),
        required=False,
        help_text=_(
            "OCPP 1.6: ask for diagnostics with the security extension's GetLog instead of "
            "GetDiagnostics. A SecurityLog is always asked for with GetLog."
        ),
    )
    start_time = forms.SplitDateTimeField(
        label=_("from"), widget=AdminSplitDateTime, required=False
    )
    stop_time = forms.SplitDateTimeField(label=_("to"), widget=AdminSplitDateTime, required=False)
    retries = forms.IntegerField(label=_("retries"), min_value=0, required=False)
    retry_interval = forms.IntegerField(label=_("retry interval (s)"), min_value=0, required=False)


@admin.register(DiagnosticsRequest)
class DiagnosticsRequestAdmin(MaintenanceSendAdmin):
    add_form_class = DiagnosticsRequestForm
    add_title = _("Request diagnostics or logs")
    list_display = [
        "created_at",
        "station",
        "kind",
        "status",
        "reported_status",
        "file_name",
        "download_link",
        "size",
        "uploaded_at",
        "requested_by",
    ]
    list_filter = ["status", "station", "created_at"]
    list_select_related = ["station", "requested_by"]
    search_fields = ["station__charger_id", "file_name"]
    readonly_fields = [
        "station",
        "command",
        "log_type",
        "request_id",
        "status",
        "reported_status",
        "file_name",
        "download_link",
        "size",
        "uploaded_at",
        "requested_by",
        "created_at",
    ]
    fields = readonly_fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="maintenance_diagnosticsrequest_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        diagnostics = self.get_object(request, object_id)
        if diagnostics is None or not diagnostics.file:
            raise Http404
        if not self.has_view_permission(request, diagnostics):
            raise PermissionDenied
        return file_response(diagnostics.file, diagnostics.file.name.rsplit("/", 1)[-1])

    def send(self, request: HttpRequest, data: dict[str, Any]) -> ChargerCommand:
        # GetLog for a 2.x station; a 1.6 station's DiagnosticsLog goes as GetDiagnostics
        # unless GetLog is asked for (log_request_send).
        return log_request_send(
            station=data["station"],
            base_url=public_base_url(request=request),
            log_type=data["log_type"] or LOG_TYPES[0],
            oldest=data["start_time"],
            latest=data["stop_time"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            get_log=data["get_log"],
            requested_by=request.user,
            source="admin",
        )

    @admin.display(description=_("kind"), ordering="log_type")
    def kind(self, obj: DiagnosticsRequest) -> str:
        return obj.log_type or "GetDiagnostics"

    @admin.display(description=_("file"))
    def download_link(self, obj: DiagnosticsRequest) -> str:
        if not obj.file:
            return "-"
        url = reverse("admin:maintenance_diagnosticsrequest_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file.name.rsplit("/", 1)[-1])
