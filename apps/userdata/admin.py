"""Staff reach their data and the change history from this node's admin page (a panel).

The export and the import are the my-data page's (apps.userdata.views), the same for staff
and account owners; the full change log is django-auditlog's own admin.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from apps.nodes.panels import panel_register


def _data_panel(request: HttpRequest) -> dict[str, Any] | None:
    if not request.user.is_authenticated:
        return None
    may_see_log = request.user.has_perm("auditlog.view_logentry")
    return {
        "page_url": reverse("userdata:page"),
        "export_url": reverse("userdata:export"),
        "log_url": reverse("admin:auditlog_logentry_changelist") if may_see_log else "",
    }


panel_register(name="userdata", template="userdata/admin_panel.html", context=_data_panel)
