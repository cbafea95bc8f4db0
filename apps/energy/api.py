"""REST API of energy accounts and their ledger; writes go through apps.energy.services."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiModelSerializer, ApiViewMixin, QueryFilter, require_perms
from apps.energy.models import EnergyAccount, LedgerEntry
from apps.energy.selectors import account_available
from apps.energy.services import AccountError, account_adjust, account_status_set


class EnergyAccountSerializer(ApiModelSerializer):
    """An energy account: who pays, its balance (the sum of its ledger) and what it may spend.

    Status changes go through POST .../status/ (a reason is kept), the balance only through
    ledger entries (POST .../adjust/ for a manual one).
    """

    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        allow_null=True,
        required=False,
        help_text="Username of the owner, or null (an organisation's account).",
    )
    available = serializers.SerializerMethodField(
        help_text="Balance plus credit limit: what the account may still spend."
    )
    id_tags = serializers.SlugRelatedField(slug_field="id_tag", many=True, read_only=True)

    class Meta:
        model = EnergyAccount
        fields = [
            "id",
            "name",
            "owner",
            "organisation",
            "unit",
            "currency",
            "balance",
            "credit_limit",
            "available",
            "group",
            "language",
            "status",
            "status_reason",
            "id_tags",
            "created_at",
        ]
        read_only_fields = ["balance", "status", "status_reason", "created_at"]

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_available(self, account: EnergyAccount) -> str:
        # A string with the ledger's 4 places, as the balance itself is written.
        return f"{account_available(account=account):.4f}"


class LedgerEntrySerializer(ApiModelSerializer):
    """One debit (negative) or credit (positive) of an account; never changed once written."""

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "account",
            "kind",
            "amount",
            "balance_after",
            "reference",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AdjustmentSerializer(serializers.Serializer):
    """A manual credit (positive) or debit (negative) with its reason."""

    amount = serializers.DecimalField(max_digits=14, decimal_places=4)
    reason = serializers.CharField(max_length=200)


class StatusSerializer(serializers.Serializer):
    """Block, close or reactivate an account; blocking and closing need a reason."""

    status = serializers.ChoiceField(choices=["active", "blocked", "closed"])
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EnergyAccountViewSet(
    ApiViewMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Energy accounts (no delete: an account with a ledger is closed, never removed)."""

    queryset = (
        EnergyAccount.objects.select_related("owner")
        .prefetch_related("id_tags")
        .order_by("name", "pk")
    )
    serializer_class = EnergyAccountSerializer
    query_filters = {
        "status": QueryFilter("status", description="active, blocked or closed"),
        "owner": QueryFilter("owner__username", description="Username of the owner"),
        "group": QueryFilter("group", description="Tariff group"),
    }

    def _refusal(self, exc: AccountError) -> Response:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)

    @extend_schema(request=AdjustmentSerializer, responses={201: LedgerEntrySerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[require_perms("energy.view_energyaccount", "energy.adjust_balance")],
        filter_backends=[],
    )
    def adjust(self, request: Request, pk: str) -> Response:
        """Write a manual adjustment (a ledger entry with the reason and who made it)."""
        account = self.get_object()
        data = AdjustmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            entry = account_adjust(
                account=account,
                amount=data.validated_data["amount"],
                reason=data.validated_data["reason"],
                by=request.user.get_username(),
            )
        except AccountError as exc:
            return self._refusal(exc)
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StatusSerializer, responses=EnergyAccountSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="status",
        permission_classes=[
            require_perms("energy.view_energyaccount", "energy.change_energyaccount")
        ],
        filter_backends=[],
    )
    def set_status(self, request: Request, pk: str) -> Response:
        """Block, close or reactivate the account; its cards follow from the next start."""
        account = self.get_object()
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            account_status_set(
                account=account,
                status=data.validated_data["status"],
                reason=data.validated_data["reason"],
                by=request.user.get_username(),
            )
        except AccountError as exc:
            return self._refusal(exc)
        return Response(EnergyAccountSerializer(account).data)


class LedgerEntryViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Ledger entries, newest first; `?account=` narrows to one account."""

    queryset = LedgerEntry.objects.all()
    serializer_class = LedgerEntrySerializer
    query_filters = {
        "account": QueryFilter("account_id", int, "Id of the account"),
        "kind": QueryFilter("kind", description="charge, topup, refund or adjustment"),
    }
