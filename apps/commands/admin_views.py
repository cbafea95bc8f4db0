"""The admin "add" view of records that are made by sending a command (reservations, firmware
updates, diagnostics requests): a form, a domain service that sends, a report of the outcome.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin, limit_form_choices
from apps.commands.models import ChargerCommand, CommandStatus


class SendThroughServiceAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """An admin whose "add" sends a command through a service instead of saving a bare row.

    Subclasses give the form, the service call (`send`) and the errors it raises that the
    form shows (`send_errors`); `sent` reports the result and picks the next page.
    """

    add_form_class: type[forms.Form]
    add_title: Any = ""
    send_errors: tuple[type[Exception], ...] = (ValueError,)

    def send(self, request: HttpRequest, data: dict[str, Any]) -> Any:
        """Send through the owning app's service; return what it made."""
        raise NotImplementedError

    def sent(self, request: HttpRequest, result: ChargerCommand) -> HttpResponse:
        """Tell how the command went and return to the list."""
        level = messages.ERROR if result.status == CommandStatus.OFFLINE else messages.INFO
        self.message_user(
            request,
            _("%(action)s to %(station)s: %(status)s. %(detail)s")
            % {
                "action": result.action,
                "station": result.station,
                "status": result.status,
                "detail": result.error_description,
            },
            level,
        )
        opts = self.opts
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.add_form_class(request.POST or None)
        limit_form_choices(form, request.user)  # stations of the user's sites only
        if request.method == "POST" and form.is_valid():
            try:
                result = self.send(request, form.cleaned_data)
            except self.send_errors as exc:
                form.add_error(None, str(exc))
            else:
                return self.sent(request, result)
        context = {
            **self.admin_site.each_context(request),
            "title": self.add_title,
            "subtitle": None,
            "adminform": helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
            "errors": helpers.AdminErrorList(form, []),
            "inline_admin_formsets": [],
            "media": self.media + form.media,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)
