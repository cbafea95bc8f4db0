"""REST API of id tags (RFID cards, app tokens): full create, read, update, delete."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets

from apps.chargers.models import Site
from apps.chargers.scoped import SiteScopedApiMixin
from apps.chargers.tenancy import filter_by_site, sees_all_sites, sites_of
from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter
from apps.energy.models import EnergyAccount
from apps.rfid.models import IdTag

# Id tags are addressed by their text; allow anything but "/" (dots included).
ID_TAG_REGEX = r"[^/]+"


class IdTagSerializer(ApiModelSerializer):
    """An id tag; parent is the id tag text of its group tag."""

    parent = serializers.SlugRelatedField(
        slug_field="id_tag",
        queryset=IdTag.objects.all(),
        allow_null=True,
        required=False,
        help_text="Id tag of the parent (group) tag, or null.",
    )
    account = serializers.PrimaryKeyRelatedField(
        queryset=EnergyAccount.objects.all(),
        allow_null=True,
        required=False,
        help_text="Id of the energy account this card's sessions are charged to, or null.",
    )

    site = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Site.objects.all(),
        allow_null=True,
        required=False,
        help_text=(
            "Name of the site whose operators manage the card; null: only operators of all "
            "sites see it. Required for operators of some sites only."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Another site's card or site is unknown to this user (apps/chargers/tenancy.py).
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = sites_of(request.user)
            self.fields["parent"].queryset = filter_by_site(IdTag.objects.all(), request.user)

    class Meta:
        model = IdTag
        fields = [
            "id_tag",
            "label",
            "token_type",
            "status",
            "expiry_date",
            "parent",
            "in_local_list",
            "account",
            "site",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict) -> dict:
        request = self.context.get("request")
        site = attrs.get("site", self.instance.site if self.instance else None)
        if request is not None and site is None and not sees_all_sites(request.user):
            # Saved without a site, the card would vanish from its own author's sight.
            raise serializers.ValidationError({"site": ["Give one of your sites."]})
        parent = attrs.get("parent")
        own = attrs.get("id_tag", self.instance.id_tag if self.instance else None)
        # Walk up from the new parent: meeting this tag would make a loop of groups.
        seen = set()
        while parent is not None and parent.pk not in seen:
            if parent.id_tag == own or (self.instance and parent.pk == self.instance.pk):
                raise serializers.ValidationError(
                    {"parent": ["An id tag cannot be its own parent or ancestor."]}
                )
            seen.add(parent.pk)
            parent = parent.parent
        return attrs


class IdTagViewSet(SiteScopedApiMixin, ApiViewMixin, viewsets.ModelViewSet):
    """Id tags drivers present, addressed by their id tag text."""

    station_path = None
    site_path = "site"  # a card's own site (docs/sites.md)

    queryset = IdTag.objects.select_related("parent", "site")
    serializer_class = IdTagSerializer
    lookup_field = "id_tag"
    lookup_value_regex = ID_TAG_REGEX
    query_filters = {
        "status": QueryFilter("status", description="Accepted, Blocked, Expired, Invalid, ..."),
        "in_local_list": QueryFilter("in_local_list", bool, "In the local authorization list"),
        "parent": QueryFilter("parent__id_tag", description="Id tag of the parent tag"),
        "account": QueryFilter("account_id", int, "Id of the card's energy account"),
    }
