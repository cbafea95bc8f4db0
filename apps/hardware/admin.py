from __future__ import annotations

from apps.hardware.access_point_admin import AccessPointAdmin

__all__ = ["AccessPointAdmin"]
