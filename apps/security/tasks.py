from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from apps.security.certificates import certificates_renew
from apps.security.models import SecurityEvent


@shared_task
def mail_security_event(event_id: int) -> None:
    """Mail a security event to OCPP_SECURITY_EMAILS."""
    event = SecurityEvent.objects.get(pk=event_id)
    send_mail(
        subject=f"[Constellation] security event {event.event_type} ({event.charger_id or '-'})",
        message=(
            f"Type: {event.event_type}\nCharger: {event.charger_id or '-'}\n"
            f"Source: {event.get_source_display()}\nTime: {event.occurred_at.isoformat()}\n\n"
            f"{event.tech_info}\n"
        ),
        from_email=None,
        recipient_list=settings.OCPP_SECURITY_EMAILS,
    )


@shared_task
def renew_station_certificates() -> int:
    """Ask stations whose certificate expires soon for a new CSR (Celery beat, hourly)."""
    return certificates_renew()
