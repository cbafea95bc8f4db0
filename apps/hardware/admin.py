from __future__ import annotations

# The admin of each part of this app lives in its own module (merged by import here).
from apps.hardware.access_point_admin import AccessPointAdmin
from apps.hardware.card_scans_admin import CardScanAdmin
from apps.hardware.services_admin import ServiceStatusAdmin

__all__ = ["AccessPointAdmin", "CardScanAdmin", "ServiceStatusAdmin"]
