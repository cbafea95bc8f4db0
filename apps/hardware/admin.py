from __future__ import annotations

# The admin of each part of this app lives in its own module (merged by import here).
from apps.hardware.card_scans_admin import CardScanAdmin

__all__ = ["CardScanAdmin"]
