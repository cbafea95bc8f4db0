"""Odoo instances, their group mappings, the users they manage, products and pushed sales."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.secrets import secret_decrypt, secret_encrypt

SECRET_PURPOSE = "odoo"


class OdooInstance(models.Model):
    """One Odoo database reached over its external API as one (service) user."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    url = models.URLField(
        _("URL"), max_length=300, help_text=_("The Odoo server, e.g. https://erp.example.com")
    )
    database = models.CharField(_("database"), max_length=120)
    username = models.CharField(
        _("user"), max_length=200, help_text=_("The login of the Odoo user the API calls run as.")
    )
    # Encrypted (apps/core/secrets.py); set through set_api_key(), read through api_key().
    api_key_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("api key encrypted")
    )
    sync_users = models.BooleanField(
        _("synchronise users"),
        default=False,
        help_text=_("Keep operator accounts in step with Odoo's internal users (scheduled)."),
    )
    login_enabled = models.BooleanField(
        _("Odoo login"),
        default=False,
        help_text=_("Operators may sign in with their Odoo login and password."),
    )
    push_sales = models.BooleanField(
        _("push session sales"),
        default=False,
        help_text=_("Record each priced charging session as a sale order in Odoo."),
    )
    sale_partner_id = models.PositiveIntegerField(
        _("sale customer (Odoo partner id)"),
        null=True,
        blank=True,
        help_text=_("The res.partner the pushed sale orders are made out to."),
    )
    default_product_id = models.PositiveIntegerField(
        _("default product (Odoo id)"),
        null=True,
        blank=True,
        help_text=_("The product.product a session is sold as when its tariff has none."),
    )
    last_sync_at = models.DateTimeField(_("last user sync"), null=True, blank=True)
    last_sync_result = models.CharField(_("last sync result"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Odoo instance")
        verbose_name_plural = _("Odoo instances")
        permissions = [
            ("sync_odoo_users", _("Can synchronise operator accounts from Odoo")),
        ]

    def __str__(self) -> str:
        return self.name

    def set_api_key(self, value: str) -> None:
        self.api_key_encrypted = secret_encrypt(value, purpose=SECRET_PURPOSE)

    def api_key(self) -> str:
        return secret_decrypt(self.api_key_encrypted, purpose=SECRET_PURPOSE)

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)


class GroupMapping(models.Model):
    """Members of an Odoo group get a Django group (and, if set, the admin)."""

    instance = models.ForeignKey(
        OdooInstance,
        verbose_name=_("Odoo instance"),
        on_delete=models.CASCADE,
        related_name="group_mappings",
    )
    odoo_group = models.CharField(
        _("Odoo group"),
        max_length=200,
        help_text=_(
            'The group\'s external id (e.g. "base.group_system") or its name as Odoo shows it '
            '(e.g. "Sales / Administrator").'
        ),
    )
    django_group = models.ForeignKey(
        Group, verbose_name=_("operator group"), on_delete=models.CASCADE, related_name="+"
    )
    staff = models.BooleanField(
        _("admin access"), default=True, help_text=_("Members may sign in to the admin.")
    )

    class Meta:
        verbose_name = _("group mapping")
        verbose_name_plural = _("group mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "odoo_group", "django_group"], name="odoo_group_mapping_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.odoo_group} → {self.django_group}"


class OdooUser(models.Model):
    """A local operator account that an Odoo user manages (created or adopted by a sync)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="odoo_link",
    )
    instance = models.ForeignKey(
        OdooInstance,
        verbose_name=_("Odoo instance"),
        on_delete=models.CASCADE,
        related_name="users",
    )
    odoo_uid = models.PositiveIntegerField(_("Odoo user id"))
    synced_at = models.DateTimeField(_("synchronised"), auto_now=True)

    class Meta:
        verbose_name = _("Odoo user")
        verbose_name_plural = _("Odoo users")
        constraints = [
            models.UniqueConstraint(fields=["instance", "odoo_uid"], name="odoo_user_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.instance} #{self.odoo_uid})"


class TariffProduct(models.Model):
    """The Odoo product the sessions priced with a tariff (every version of its code) are
    sold as."""

    instance = models.ForeignKey(
        OdooInstance,
        verbose_name=_("Odoo instance"),
        on_delete=models.CASCADE,
        related_name="tariff_products",
    )
    tariff_code = models.SlugField(_("tariff code"), max_length=40)
    product_id = models.PositiveIntegerField(_("Odoo product id"))
    product_name = models.CharField(_("product"), max_length=200, blank=True)
    product_code = models.CharField(_("internal reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("tariff product")
        verbose_name_plural = _("tariff products")
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "tariff_code"], name="odoo_tariff_product_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tariff_code} → {self.product_name or self.product_id}"


class SaleState(models.TextChoices):
    PENDING = "pending", _("pending")
    PUSHING = "pushing", _("being pushed")
    PUSHED = "pushed", _("pushed")
    FAILED = "failed", _("failed")


class SessionSale(models.Model):
    """A charging session's sale order in Odoo: pushed once, its Odoo id remembered."""

    instance = models.ForeignKey(
        OdooInstance,
        verbose_name=_("Odoo instance"),
        on_delete=models.PROTECT,
        related_name="sales",
    )
    transaction = models.ForeignKey(
        "transactions.Transaction",
        verbose_name=_("session"),
        on_delete=models.PROTECT,
        related_name="odoo_sales",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=SaleState.choices, default=SaleState.PENDING
    )
    product_id = models.PositiveIntegerField(_("Odoo product id"), null=True, blank=True)
    order_id = models.PositiveIntegerField(_("Odoo sale order id"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=300, blank=True)
    # When a worker claimed the push (state "pushing"); a claim this old is taken over.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("session sale")
        verbose_name_plural = _("session sales")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "transaction"], name="odoo_session_sale_once"
            )
        ]

    def __str__(self) -> str:
        return f"tx {self.transaction_id} → {self.order_id or '-'}"

    @property
    def reference(self) -> str:
        """What the sale order carries as client_order_ref: finds an order created already."""
        return f"constellation-tx-{self.transaction_id}"
