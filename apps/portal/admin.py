"""Receipts in the admin: the list of issued receipts, each downloadable as a PDF."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.portal.models import Receipt
from apps.portal.receipts import receipt_number
from apps.portal.selectors import receipts_for_operator
from apps.portal.views import pdf_response


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Read-only: receipts are derived from ledger entries, which are never changed."""

    list_display = ("number", "created_at", "account", "kind", "amount", "download")
    list_filter = ("kind", "created_at")
    list_select_related = ("account",)
    search_fields = ("account__name", "account__owner__username", "reference")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Receipt]:
        # A session's receipt only for an operator of its station's site (docs/sites.md).
        return receipts_for_operator(super().get_queryset(request), user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Receipt | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Receipt | None = None) -> bool:
        return False

    @admin.display(description=_("receipt number"), ordering="pk")
    def number(self, obj: Receipt) -> str:
        return receipt_number(obj)

    @admin.display(description=_("PDF"))
    def download(self, obj: Receipt) -> str:
        url = reverse("admin:portal_receipt_pdf", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self) -> list[URLPattern]:
        pdf = path(
            "<int:pk>/pdf/",
            self.admin_site.admin_view(self.pdf_view),
            name="portal_receipt_pdf",
        )
        return [pdf, *super().get_urls()]

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Download one receipt (operators with the view permission on receipts)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return pdf_response(entry=get_object_or_404(self.get_queryset(request), pk=pk))
