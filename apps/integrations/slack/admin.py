"""The Slack bot in the admin: workspaces (token never shown), channels per site, linked people."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.integrations.slack import client
from apps.integrations.slack.client import SlackError
from apps.integrations.slack.models import SlackChannelRoute, SlackIdentity, SlackWorkspace


@admin.register(SlackWorkspace)
class SlackWorkspaceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team_id", "active", "installed_by", "installed_at", "token_saved"]
    readonly_fields = [
        "team_id",
        "team_name",
        "bot_user_id",
        "scope",
        "installed_by",
        "installed_at",
        "token_saved",
    ]
    fields = [*readonly_fields, "active"]
    actions = ["check_token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a workspace comes from Slack's install, never typed in

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = extra_context or {}
        if request.user.has_perm("slack.add_slackworkspace"):
            messages.info(
                request,
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("slack:install"),
                    _("Add Constellation to a Slack workspace"),
                ),
            )
        return super().changelist_view(request, extra_context)

    @admin.display(boolean=True, description=_("bot token saved"))
    def token_saved(self, obj: SlackWorkspace) -> bool:
        return bool(obj.bot_token_encrypted)

    @admin.action(description=_("Check the bot token with Slack"), permissions=["view"])
    def check_token(self, request: HttpRequest, queryset: QuerySet[SlackWorkspace]) -> None:
        for workspace in queryset:
            try:
                answer = client.auth_test(token=workspace.token())
            except SlackError as exc:
                self.message_user(request, f"{workspace}: {exc.code}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(workspace)s: the token works (bot %(bot)s).")
                    % {"workspace": workspace, "bot": answer.get("user_id", "-")},
                )


@admin.register(SlackChannelRoute)
class SlackChannelRouteAdmin(admin.ModelAdmin):
    list_display = ["site", "kind", "channel"]
    list_filter = ["kind", "site"]
    list_select_related = ["site"]
    autocomplete_fields = ["site"]


class SlackIdentityForm(forms.ModelForm):
    """Only a superuser links a Slack user to someone else: commands run as that operator."""

    request: HttpRequest

    class Meta:
        model = SlackIdentity
        fields = ["team_id", "slack_user_id", "user"]

    def clean_user(self):
        user = self.cleaned_data["user"]
        actor = self.request.user
        if user != actor and not actor.is_superuser:
            raise forms.ValidationError(
                _("Only a superuser links a Slack account to another operator.")
            )
        return user


@admin.register(SlackIdentity)
class SlackIdentityAdmin(admin.ModelAdmin):
    form = SlackIdentityForm
    list_display = ["slack_user_id", "team_id", "user", "linked_at"]
    list_select_related = ["user"]
    search_fields = ["slack_user_id", "user__username"]
    raw_id_fields = ["user"]

    def get_form(self, request: HttpRequest, obj: SlackIdentity | None = None, **kwargs: Any):
        # A class of this request's own: a class attribute would be shared between requests.
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"request": request})
