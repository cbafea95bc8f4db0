from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.core.admin_mixins import RecordAdminMixin
from apps.security import ca
from apps.security.certificates import (
    REVOCATION_REASONS,
    certificate_revocation_list,
    issued_certificate_revoke,
)
from apps.security.models import InstalledCertificate, IssuedCertificate, SecurityEvent

PEM_TYPE = "application/x-pem-file"


@admin.register(SecurityEvent)
class SecurityEventAdmin(SiteScopedAdminMixin, RecordAdminMixin, admin.ModelAdmin):
    """Security events as stations (and this server) reported them: read-only for everyone."""

    list_display = ["occurred_at", "charger_id", "source", "event_type", "tech_info"]
    list_filter = ["source", "event_type"]
    search_fields = ["charger_id", "event_type", "tech_info"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["station"]
    list_select_related = ["station"]


def _pem_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=PEM_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("reason"),
        choices=[(flag.value, flag.value) for flag in REVOCATION_REASONS],
        initial=REVOCATION_REASONS[0].value,
    )


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """Certificates our CA signed for stations: see, download, revoke; the CA and its CRL."""

    list_display = [
        "issued_at",
        "station",
        "kind",
        "serial",
        "not_after",
        "delivery_status",
        "revoked_at",
        "revocation_reason",
        "download_link",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "issued_at"]
    list_select_related = ["station", "delivery"]
    search_fields = ["station__charger_id", "serial", "subject"]
    date_hierarchy = "issued_at"
    fields = [
        "station",
        "kind",
        "serial",
        "subject",
        "not_before",
        "not_after",
        "issued_at",
        "delivery",
        "delivery_status",
        "revoked_at",
        "revocation_reason",
        "renewal_requested_at",
        "download_link",
        "pem",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the CA issues them, when a station asks

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, never forgotten: the CRL lists them

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("ca.pem", view(self.ca_view), name="security_issuedcertificate_ca"),
            path("crl.pem", view(self.crl_view), name="security_issuedcertificate_crl"),
            path(
                "<path:object_id>/pem/",
                view(self.pem_view),
                name="security_issuedcertificate_pem",
            ),
            *super().get_urls(),
        ]

    def _require_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def ca_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        return _pem_response(ca.ca_load().chain_pem(), "csms-ca.pem")

    def crl_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        return _pem_response(certificate_revocation_list(), "csms-ca.crl.pem")

    def pem_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        certificate = self.get_object(request, object_id)
        if certificate is None:
            raise Http404
        if not self.has_view_permission(request, certificate):
            raise PermissionDenied
        filename = f"{certificate.station.charger_id}-{certificate.serial}.pem"
        return _pem_response(certificate.pem, filename)

    @admin.display(description=_("station's answer"))
    def delivery_status(self, obj: IssuedCertificate) -> str:
        return obj.delivery.get_status_display() if obj.delivery else "-"

    @admin.display(description=_("download"))
    def download_link(self, obj: IssuedCertificate) -> str:
        url = reverse("admin:security_issuedcertificate_pem", args=[obj.pk])
        return format_html('<a href="{}">PEM</a>', url)

    @admin.action(description=_("Revoke the selected certificates"), permissions=["change"])
    def revoke(
        self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]
    ) -> TemplateResponse | None:
        form = RevokeForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            revoked = sum(
                issued_certificate_revoke(
                    certificate=certificate, reason=form.cleaned_data["reason"]
                )
                for certificate in queryset.select_related("station")
            )
            self.message_user(
                request,
                ngettext(
                    "%(count)d certificate revoked.", "%(count)d certificates revoked.", revoked
                )
                % {"count": revoked},
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/security/issuedcertificate/revoke.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Revoke certificates"),
                "opts": self.model._meta,
                "form": form,
                "certificates": queryset.select_related("station"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """Certificates stations reported installed (Get installed certificate ids)."""

    list_display = ["station", "certificate_type", "serial_number", "hash_algorithm", "reported_at"]
    list_filter = ["certificate_type"]
    list_select_related = ["station"]
    search_fields = ["station__charger_id", "serial_number"]
    readonly_fields = [
        "station",
        "certificate_type",
        "hash_algorithm",
        "issuer_name_hash",
        "issuer_key_hash",
        "serial_number",
        "reported_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # what the stations report, nothing else
