"""The admin's "Sigil preview": paste a text, see it resolved, unknown sigils flagged.

Staff only (the admin's login), and the user needs `nodes.view_node`; each root resolves only
for users with its permission (a station's fields need `chargers.view_chargingstation`).
Secrets never show here. The page also lists the texts in use with their problems, and the
roots with the fields they allow.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.nodes.sigils import Root, sigil_roots, sigil_texts, sigils_resolve

PERMISSION = "nodes.view_node"
MAX_TEXT = 10_000


class PreviewForm(forms.Form):
    text = forms.CharField(
        label=_("text"),
        max_length=MAX_TEXT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_("Any text with sigils, e.g. [NODE.name] or [STATION.CP-01.name]."),
    )


def sigils_preview_view(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """Render the preview (GET: empty form; POST: the text resolved for this user)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied

    def may_see(root: Root) -> bool:
        return not root.permission or request.user.has_perm(root.permission)

    form = PreviewForm(request.POST if request.method == "POST" else None)
    resolution = None
    if form.is_valid():
        resolution = sigils_resolve(form.cleaned_data["text"], may_see=may_see)
    texts = []
    for text in sigil_texts():
        try:
            texts.append((text, sigils_resolve(text.get(), may_see=may_see)))
        except Exception:  # one text that cannot be read hides no other
            texts.append((text, None))
    roots = [
        {
            "name": root.name,
            "keyed": root.keyed,
            "fields": sorted(root.fields()),
            "secret": sorted(name for name, field in root.fields().items() if field.secret),
            "visible": may_see(root),
            "allow_setting": root.allow_setting,
        }
        for root in sorted(sigil_roots().values(), key=lambda root: root.name)
    ]
    context = {
        **admin_context,
        "title": gettext("Sigil preview"),
        "form": form,
        "resolution": resolution,
        "texts": texts,
        "roots": roots,
    }
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return TemplateResponse(request, "admin/nodes/sigils_preview.html", context, status=status)
