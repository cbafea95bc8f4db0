from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.energy.admin import ACCOUNT_INLINES, AccountPartInline
from apps.rfid.models import IdTag


@admin.register(IdTag)
class IdTagAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    # A card has no station: its own site says which operators manage it (docs/sites.md).
    station_path = None
    site_path = "site"
    list_display = [
        "id_tag",
        "label",
        "token_type",
        "status",
        "expiry_date",
        "parent",
        "in_local_list",
        "account",
        "site",
    ]
    list_filter = ["status", "token_type", "in_local_list", "site"]
    search_fields = ["id_tag", "label"]
    autocomplete_fields = ["parent", "account"]
    list_select_related = ["parent", "account", "site"]


class CardInline(AccountPartInline):
    """The account's cards: shown here, changed on the id tag's own page."""

    model = IdTag
    fields = ["id_tag", "label", "status", "expiry_date"]
    readonly_fields = fields
    show_change_link = True
    verbose_name = _("card")
    verbose_name_plural = _("cards")


ACCOUNT_INLINES.append(CardInline)
