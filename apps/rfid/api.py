"""REST API of id tags (RFID cards, app tokens): full create, read, update, delete."""

from __future__ import annotations

from rest_framework import serializers, viewsets

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
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict) -> dict:
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


class IdTagViewSet(ApiViewMixin, viewsets.ModelViewSet):
    """Id tags drivers present, addressed by their id tag text."""

    queryset = IdTag.objects.select_related("parent")
    serializer_class = IdTagSerializer
    lookup_field = "id_tag"
    lookup_value_regex = ID_TAG_REGEX
    query_filters = {
        "status": QueryFilter("status", description="Accepted, Blocked, Expired, Invalid, ..."),
        "in_local_list": QueryFilter("in_local_list", bool, "In the local authorization list"),
        "parent": QueryFilter("parent__id_tag", description="Id tag of the parent tag"),
        "account": QueryFilter("account_id", int, "Id of the card's energy account"),
    }
