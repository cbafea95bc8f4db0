"""API permission classes (kept apart from apps.core.api: DRF settings import them early)."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class DjangoModelPermissionsWithView(DjangoModelPermissions):
    """Model permissions where reading also needs a permission: `<app>.view_<model>`."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
