from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from apps.dashboard import station_admin  # noqa: F401  (registers the station page)
from apps.dashboard.models import Favorite
from apps.dashboard.services import favorite_add


@admin.register(Favorite)
class FavoriteAdmin(admin.ModelAdmin):
    """Each staff member's own favorites: nobody sees or edits another user's."""

    list_display = ["label", "url", "position"]
    list_editable = ["position"]
    fields = ["label", "url"]
    search_fields = ["label", "url"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Favorite]:
        return super().get_queryset(request).filter(user=request.user)

    # Favorites belong to their user: any active staff member manages their own.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: Favorite | None = None) -> bool:
        return self._owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Favorite | None = None) -> bool:
        return self._owns(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Favorite | None = None) -> bool:
        return self._owns(request, obj)

    def _owns(self, request: HttpRequest, obj: Favorite | None) -> bool:
        if not self.has_module_permission(request):
            return False
        return obj is None or obj.user_id == request.user.pk

    def save_model(
        self, request: HttpRequest, obj: Favorite, form: ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = favorite_add(user_id=request.user.pk, url=obj.url, label=obj.label)
        obj.pk, obj.user_id, obj.position = created.pk, created.user_id, created.position

    def response_add(
        self, request: HttpRequest, obj: Favorite, post_url_continue: Any = None
    ) -> HttpResponse:
        # Pinned from a page's "☆ Pin" link: back to that page.
        if "_addanother" not in request.POST and "_continue" not in request.POST:
            self.message_user(
                request, _("“%(label)s” added to your favorites.") % {"label": obj.label}
            )
            return HttpResponseRedirect(obj.url)
        return super().response_add(request, obj, post_url_continue)
