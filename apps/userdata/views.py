"""The user data page: export download, import upload, its dry-run diff, and confirmation.

Every signed-in user has it; each exports what their permissions cover and imports what
they may create or change (apps.userdata.selectors / services). The file waits in the
user's session between the dry run and the confirmation, and is planned again on confirm:
what was shown is what gets written, or nothing is.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.core.timeutil import utcnow
from apps.userdata.bundle import BundleError, bundle_decode
from apps.userdata.selectors import bundle_export
from apps.userdata.services import ImportResult, userdata_import

LOGIN_URL = "portal:login"
PENDING = "userdata_pending_import"


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Bundle file (JSON)"))
    overwrite = forms.BooleanField(
        label=gettext_lazy("Replace objects that exist here with other values"), required=False
    )


def _page(
    request: HttpRequest,
    *,
    form: ImportForm | None = None,
    result: ImportResult | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> TemplateResponse:
    context: dict[str, Any] = {
        "title": _("My data"),
        "form": form or ImportForm(),
        "result": result,
        "errors": errors or [],
        "pending": PENDING in request.session,
    }
    return TemplateResponse(request, "userdata/page.html", context, status=status)


@require_GET
@login_required(login_url=LOGIN_URL)
def page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@login_required(login_url=LOGIN_URL)
def export(request: HttpRequest) -> HttpResponse:
    """Download the user's bundle."""
    bundle = bundle_export(user=request.user)
    response = HttpResponse(
        json.dumps(bundle, indent=2, ensure_ascii=False), content_type="application/json"
    )
    name = f"userdata-{request.user.get_username()}-{utcnow():%Y%m%dT%H%M%SZ}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@login_required(login_url=LOGIN_URL)
def import_preview(request: HttpRequest) -> HttpResponse:
    """Dry run of an uploaded bundle: show the diff, keep the file for the confirmation."""
    request.session.pop(PENDING, None)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    upload = form.cleaned_data["file"]
    overwrite = form.cleaned_data["overwrite"]
    try:
        if upload.size > settings.USERDATA_MAX_BUNDLE_BYTES:
            raise BundleError(
                [
                    _("The file is larger than %(limit)s bytes.")
                    % {"limit": settings.USERDATA_MAX_BUNDLE_BYTES}
                ]
            )
        data = bundle_decode(upload.read())
        result = userdata_import(user=request.user, data=data, overwrite=overwrite, dry_run=True)
    except BundleError as error:
        return _page(request, form=form, errors=error.errors, status=400)
    if not result.blocked:
        request.session[PENDING] = {"data": data, "overwrite": overwrite}
    return _page(request, form=form, result=result, status=409 if result.blocked else 200)


@require_POST
@login_required(login_url=LOGIN_URL)
def import_confirm(request: HttpRequest) -> HttpResponse:
    """Import the bundle of the last dry run: all of it or, when anything is in the way, nothing."""
    pending = request.session.pop(PENDING, None)
    if pending is None:
        return _page(
            request, errors=[_("Upload the file again: no dry run is waiting.")], status=400
        )
    try:
        result = userdata_import(
            user=request.user, data=pending["data"], overwrite=pending["overwrite"]
        )
    except BundleError as error:
        return _page(request, errors=error.errors, status=400)
    if not result.applied:
        # Something changed here since the dry run: nothing was written; show why.
        return _page(request, result=result, status=409)
    counts = result.counts
    messages.success(
        request,
        _("Imported: %(create)s created, %(update)s updated, %(unchanged)s unchanged.")
        % {
            "create": counts["create"],
            "update": counts["update"],
            "unchanged": counts["unchanged"],
        },
    )
    return HttpResponseRedirect(reverse("userdata:page"))
