"""This node's page: its record, its role, each feature's state, and the operator's switches.

The local node is made by `services.this_node()`, never by hand: the admin cannot add or
delete nodes, and the node list leads straight to this node's page. Viewing needs a
permission of this app (on nodes or feature switches); switching a feature needs
`nodes.change_featureswitch`, changing the role `nodes.change_node`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.nodes import features
from apps.nodes.models import FeatureSwitch, Mode, Node, Role
from apps.nodes.panels import panels_render
from apps.nodes.services import set_role, set_switch, this_node
from apps.nodes.sigils import sigils_resolve
from apps.nodes.sigils_admin import sigils_preview_view

SWITCH = "switch"
ROLE = "role"


class SwitchForm(forms.Form):
    slug = forms.ChoiceField(
        label=_("feature"),
        choices=[(slug, feature.name) for slug, feature in features.CATALOGUE.items()],
        widget=forms.HiddenInput,
    )
    mode = forms.ChoiceField(label=_("mode"), choices=Mode.choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "hostname", "version", "last_seen", "local"]
    fields = [
        "name",
        "role",
        "hostname",
        "addresses",
        "port",
        "version",
        "installed_at",
        "last_seen",
        "local",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # this node's row is made by this_node(); others by pairing

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever may switch features must see what they switch.
        return super().has_view_permission(request, obj) or any(
            request.user.has_perm(f"nodes.{action}_featureswitch") for action in ("view", "change")
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "sigils/",
                self.admin_site.admin_view(self.sigils_view),
                name="nodes_node_sigils",
            ),
            *super().get_urls(),
        ]

    def sigils_view(self, request: HttpRequest) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "opts": self.model._meta}
        return sigils_preview_view(request, context)

    def may_switch(self, request: HttpRequest) -> bool:
        return request.user.has_perm("nodes.change_featureswitch")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:nodes_node_change", args=[this_node().pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        node = self.get_object(request, unquote(object_id))
        if node is None or not node.local:
            # Other nodes (a Watchtower's constellation) get the plain read-only form.
            return super().change_view(request, object_id, form_url, extra_context)
        if not self.has_view_permission(request, node):
            raise PermissionDenied
        if request.method == "POST":
            return self._post(request, node)
        return self._page(request, node)

    def _post(self, request: HttpRequest, node: Node) -> HttpResponse:
        action = request.POST.get("action")
        if action == SWITCH:
            if not self.may_switch(request):
                raise PermissionDenied
            form = SwitchForm(request.POST)
            if form.is_valid():
                slug, mode = form.cleaned_data["slug"], form.cleaned_data["mode"]
                set_switch(slug, mode, by=request.user.get_username(), node=node)
                name = features.CATALOGUE[slug].name
                self.log_change(request, node, f"{slug}={mode}")
                messages.success(
                    request,
                    gettext("%(feature)s switched to %(mode)s.")
                    % {"feature": name, "mode": Mode(mode).label},
                )
        elif action == ROLE:
            if not self.has_change_permission(request, node):
                raise PermissionDenied
            form = RoleForm(request.POST)
            if form.is_valid():
                role = form.cleaned_data["role"]
                set_role(role, node=node)
                self.log_change(request, node, f"role={role}")
                message = gettext("This node's role is now %(role)s.")
                messages.success(request, message % {"role": Role(role).label})
        else:
            return HttpResponseBadRequest(gettext("Unknown action."))
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        return HttpResponseRedirect(request.path)

    def _page(self, request: HttpRequest, node: Node) -> TemplateResponse:
        switches = {switch.slug: switch for switch in FeatureSwitch.objects.filter(node=node)}
        rows = [
            {
                "state": state,
                "switch": switches.get(slug),
                "mode_label": Mode(state.mode).label,
                # One form per feature, posting plain "slug" and "mode"; ids kept apart.
                "form": SwitchForm(
                    initial={"slug": slug, "mode": state.mode}, auto_id=f"id_{slug}_%s"
                ),
            }
            for slug, state in features.feature_states(node).items()
        ]
        name = sigils_resolve(node.name)
        for part in name.problems:
            messages.warning(
                request,
                gettext("The node's name has the sigil %(sigil)s left as typed: %(why)s.")
                % {"sigil": part.sigil, "why": part.message},
            )
        context = {
            **self.admin_site.each_context(request),
            "title": name.text,
            "node_name": name.text,
            "subtitle": None,
            "opts": self.model._meta,
            "original": node,
            "node": node,
            "rows": rows,
            "may_switch": self.may_switch(request),
            "may_change_role": self.has_change_permission(request, node),
            "role_form": RoleForm(initial={"role": node.role}),
            "switch_action": SWITCH,
            "role_action": ROLE,
            "panels": panels_render(request=request),
        }
        return TemplateResponse(request, "admin/nodes/node/this_node.html", context)
