"""The access point in the admin: its settings (the password write-only), status and clients."""

from __future__ import annotations

import shlex

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.hardware import access_point
from apps.hardware.models import AccessPoint
from apps.nodes.features import AP_PUBLIC_WIFI, AP_ROUTER, feature_states


class AccessPointForm(forms.ModelForm):
    # Write-only: the saved passphrase is never sent back to a browser.
    new_password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "WPA2 passphrase, 8 to 63 printable ASCII characters. Leave empty to keep the "
            "saved one; it is never shown again."
        ),
    )
    open_network = forms.BooleanField(
        label=_("open network (no password)"),
        required=False,
        help_text=_("Public mode only: forget the saved password and run an open network."),
    )

    class Meta:
        model = AccessPoint
        fields = ["interface", "ssid", "band", "channel", "mode", "address"]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if data.get("open_network"):
            password = ""
        else:
            password = data.get("new_password") or self.instance.password
        errors = access_point.ap_errors(
            interface=data.get("interface", ""),
            ssid=data.get("ssid", ""),
            password=password,
            band=data.get("band", ""),
            channel=data.get("channel"),
            mode=data.get("mode", ""),
            address=data.get("address", ""),
        )
        for name, message in errors.items():
            self.add_error("new_password" if name == "password" else name, message)
        self.password = password
        return data

    def save(self, commit: bool = True) -> AccessPoint:
        self.instance.password = self.password
        return super().save(commit)


@admin.register(AccessPoint)
class AccessPointAdmin(admin.ModelAdmin):
    form = AccessPointForm
    list_display = ["ssid", "interface", "mode", "band", "password_set", "updated_at"]
    readonly_fields = ["feature_state", "password_set", "status", "clients", "commands"]
    fieldsets = [
        (None, {"fields": ["interface", "ssid", "mode", "band", "channel", "address"]}),
        (_("Password"), {"fields": ["password_set", "new_password", "open_network"]}),
        (_("State"), {"fields": ["feature_state", "status", "clients", "commands"]}),
    ]

    def _status(self, obj: AccessPoint) -> access_point.ApStatus:
        # Asked once per page: the status and the clients come from one round of nmcli and iw.
        if not hasattr(obj, "_ap_status"):
            obj._ap_status = access_point.ap_status(interface=obj.interface)
        return obj._ap_status

    @admin.display(description=_("password set"), boolean=True)
    def password_set(self, obj: AccessPoint) -> bool:
        return bool(obj.password)

    @admin.display(description=_("features"))
    def feature_state(self, obj: AccessPoint) -> str:
        states = feature_states()
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            (
                (states[slug].feature.name, states[slug].describe())
                for slug in (AP_PUBLIC_WIFI, AP_ROUTER)
            ),
        )

    @admin.display(description=_("status"))
    def status(self, obj: AccessPoint) -> str:
        if obj.pk is None:
            return "-"
        status = self._status(obj)
        if not status.available or not status.active:
            return format_html("{}: {}", _("not active"), status.detail)
        return format_html(
            "{} — SSID {} — {}", _("active"), status.ssid, ", ".join(status.addresses) or "-"
        )

    @admin.display(description=_("connected clients"))
    def clients(self, obj: AccessPoint) -> str:
        if obj.pk is None:
            return "-"
        status = self._status(obj)
        if not status.clients:
            return _("none")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    c.mac,
                    c.ip or "-",
                    c.hostname or "-",
                    "-" if c.signal_dbm is None else f"{c.signal_dbm} dBm",
                    "-" if c.connected_s is None else f"{c.connected_s} s",
                )
                for c in status.clients
            ),
        )
        return format_html(
            "<table><tr><th>MAC</th><th>IP</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("host name"),
            _("signal"),
            _("connected"),
            rows,
        )

    @admin.display(description=_("commands (run as root by manage.py access_point --apply)"))
    def commands(self, obj: AccessPoint) -> str:
        if obj.pk is None:
            return "-"
        try:
            spec = access_point.access_point_spec(access_point=obj)
        except access_point.AccessPointError as exc:
            return str(exc)
        return format_html_join(
            "",
            "<pre>{}</pre>",
            (
                (shlex.join(argv),)
                for argv in access_point.commands_shown(access_point.ap_commands(spec))
            ),
        )
