from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.hardware.models import CardScan
from apps.hardware.rfid_scanner import CardRegisterError, card_register
from apps.rfid.models import IdTag

# Registering a card makes an id tag: the permission is the id tags' own.
REGISTER_PERMISSION = "rfid.add_idtag"


@admin.register(CardScan)
class CardScanAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """The last cards read by this node's scanner, newest first, refreshed live."""

    list_display = ["uid", "at", "result", "action", "station", "detail", "register"]
    list_filter = ["result", "action"]
    list_select_related = ["station"]
    search_fields = ["uid"]
    actions = None
    list_per_page = 50

    class Media:
        js = ["hardware/card-scans.js"]

    def get_list_display(self, request: HttpRequest) -> list[str]:
        shown = list(super().get_list_display(request))
        if not request.user.has_perm(REGISTER_PERMISSION):
            shown.remove("register")
        return shown

    def get_queryset(self, request: HttpRequest) -> QuerySet[CardScan]:
        known = IdTag.objects.filter(id_tag=OuterRef("uid"))
        return super().get_queryset(request).annotate(known=Exists(known))

    @admin.display(description=_("id tag"))
    def register(self, obj: CardScan) -> str:
        if getattr(obj, "known", True):
            return "-"
        # The changelist is one form already (with its CSRF token): the button posts it to
        # the register view instead of nesting a form.
        return format_html(
            '<button type="submit" class="button" formmethod="post" formaction="{}" '
            'data-register-card="{}">{}</button>',
            reverse("admin:hardware_cardscan_register", args=[obj.pk]),
            obj.uid,
            _("Register this card"),
        )

    def get_urls(self) -> list:
        urls = [
            path(
                "<int:scan_id>/register/",
                self.admin_site.admin_view(self.register_view),
                name="hardware_cardscan_register",
            )
        ]
        return urls + super().get_urls()

    def register_view(self, request: HttpRequest, scan_id: int) -> HttpResponseRedirect:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(REGISTER_PERMISSION):
            raise PermissionDenied
        scan = get_object_or_404(CardScan, pk=scan_id)
        try:
            tag = card_register(scan=scan)
        except CardRegisterError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                _("Card %(uid)s registered as an accepted id tag.") % {"uid": tag.id_tag},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:hardware_cardscan_changelist"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # scans come from the reader

    def has_change_permission(self, request: HttpRequest, obj: CardScan | None = None) -> bool:
        return False
