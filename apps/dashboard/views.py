"""Control center pages: the live dashboard, favorites, station shortcuts, the changelog."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.chargers.models import RegistrationStatus
from apps.chargers.services import station_set_registration
from apps.chargers.tenancy import stations_visible_to
from apps.dashboard import selectors
from apps.dashboard.changelog import ChangelogError, read_changelog
from apps.dashboard.consumers import VIEW_PERMISSION
from apps.dashboard.labels import live_labels
from apps.dashboard.models import Favorite
from apps.dashboard.routing import LIVE_PATH
from apps.dashboard.services import favorite_move, favorite_remove
from apps.nodes.services import node_version
from apps.ocpp.models import MessageLog
from apps.transactions.billing import running_costs
from apps.transactions.selectors import live_transactions

# Periods the message log filter offers besides a from/until range.
LOG_PERIODS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1)}


@require_GET
def dashboard(request: HttpRequest) -> TemplateResponse:
    """Show every station, connector and active transaction; the page then updates live."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    # Only the user's sites' stations (apps/chargers/tenancy.py), here and in the live feed.
    stations = selectors.dashboard_stations(user=request.user)
    transactions = live_transactions(user=request.user)
    context = {
        **admin.site.each_context(request),
        "title": _("Control center"),
        "stations": stations,
        "transactions": transactions,
        "costs": running_costs(transactions=[item.transaction for item in transactions]),
        "security_events": selectors.recent_security_events(user=request.user),
        "failed_commands": selectors.recent_failed_commands(user=request.user),
        "online_count": sum(1 for station in stations if station.is_connected),
        # Live figures from live data only: a station that is not connected reports nothing
        # now, whatever its connectors said last (see live_transactions for the power).
        "charging_count": sum(
            1
            for station in stations
            if station.is_connected
            for connector in station.live_connectors
            if connector.status == "Charging"
        ),
        "total_power_w": sum(item.power_w or 0.0 for item in transactions),
        "live_path": LIVE_PATH,
        "live_labels": live_labels(),
        # The Stop button of a row: who may send commands (transactions' STOP_PERMISSION).
        "may_stop": request.user.has_perm("commands.add_chargercommand"),
    }
    return TemplateResponse(request, "admin/control_center/dashboard.html", context)


@require_POST
def favorite_move_view(request: HttpRequest, pk: int, direction: str) -> HttpResponseRedirect:
    """Move one of the user's favorites up or down, then go back to the admin index."""
    favorite = get_object_or_404(Favorite, pk=pk, user=request.user)
    favorite_move(favorite=favorite, offset=-1 if direction == "up" else 1)
    return HttpResponseRedirect(reverse("admin:index"))


@require_POST
def favorite_remove_view(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    favorite = get_object_or_404(Favorite, pk=pk, user=request.user)
    favorite_remove(favorite=favorite)
    messages.success(request, _("“%(label)s” removed from your favorites.") % {"label": favorite})
    return HttpResponseRedirect(reverse("admin:index"))


@require_POST
def station_registration(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Approve or reject a station from its page (one click), then show the page again."""
    station = get_object_or_404(stations_visible_to(request.user), pk=pk)
    if not request.user.has_perm("chargers.change_chargingstation"):
        raise PermissionDenied
    status = request.POST.get("status")
    if status not in (RegistrationStatus.ACCEPTED, RegistrationStatus.REJECTED):
        messages.error(request, _("Choose Accepted or Rejected."))
    else:
        station_set_registration(station=station, status=status)
        text = {
            RegistrationStatus.ACCEPTED: _(
                "%(station)s approved: it is Accepted at its next BootNotification."
            ),
            RegistrationStatus.REJECTED: _("%(station)s rejected."),
        }[status]
        messages.success(request, text % {"station": station})
    return HttpResponseRedirect(reverse("admin:chargers_chargingstation_change", args=[pk]))


def _aware(text: str) -> str | None:
    """Return a from/until field (YYYY-MM-DDTHH:MM in the user's time zone) as ISO 8601."""
    try:
        value = parse_datetime(text.strip())
    except ValueError:
        return None
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.isoformat()


@require_GET
def message_log(request: HttpRequest) -> HttpResponseRedirect:
    """Turn the station page's log filter into the message log list with those filters."""
    if not request.user.has_perm("ocpp.view_messagelog"):
        raise PermissionDenied
    query: dict[str, str] = {}
    charger_id = request.GET.get("charger_id", "").strip()
    if charger_id:
        query["charger_id"] = charger_id
    direction = request.GET.get("direction", "")
    if direction in MessageLog.Direction.values:
        query["direction__exact"] = direction
    action = request.GET.get("action", "").strip()
    if action:
        query["action__exact"] = action
    period = LOG_PERIODS.get(request.GET.get("period", ""))
    if period is not None:
        query["created_at__gte"] = (timezone.now() - period).isoformat()
    else:
        since = _aware(request.GET.get("since", ""))
        until = _aware(request.GET.get("until", ""))
        if since:
            query["created_at__gte"] = since
        if until:
            query["created_at__lt"] = until
    url = reverse("admin:ocpp_messagelog_changelist")
    return HttpResponseRedirect(f"{url}?{urlencode(query)}" if query else url)


def changelog_path() -> Path:
    """Return the release notes file: CHANGELOG_PATH, by default the project's CHANGELOG.md."""
    return Path(getattr(settings, "CHANGELOG_PATH", Path(settings.BASE_DIR) / "CHANGELOG.md"))


def _changelog_page(request: HttpRequest, **extra: object) -> TemplateResponse:
    path = changelog_path()
    try:
        changelog, error = read_changelog(path), ""
    except ChangelogError as exc:
        changelog, error = None, str(exc)
    context = {
        **admin.site.each_context(request),
        "title": _("Release notes"),
        "changelog": changelog,
        "error": error,
        "changelog_file": path.name,
        **extra,
    }
    return TemplateResponse(request, "admin/control_center/changelog.html", context)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in operator's start page at /: where to go from here (admin_view: login)."""
    context = {**admin.site.each_context(request), "title": _("Home")}
    return TemplateResponse(request, "admin/control_center/home.html", context)


@require_GET
def changelog(request: HttpRequest) -> HttpResponse:
    """Show the release notes, version by version (past and planned); open to everyone."""
    return _changelog_page(request)


@require_GET
def changelog_admin(request: HttpRequest) -> HttpResponse:
    """Show the release notes in the admin, with the version this node runs (staff only)."""
    return _changelog_page(request, node_version=node_version(), in_admin=True)
