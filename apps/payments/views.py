"""Processors' webhooks and PayPal's return page (URLs under /payments/)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.payments.models import Processor, TopUp
from apps.payments.processors.base import PaymentError, WebhookError
from apps.payments.services import topup_capture, webhook_receive

logger = logging.getLogger("apps.payments")


@csrf_exempt  # the processor signs the request; there is no browser session to protect
@require_POST
def webhook(request: HttpRequest, processor: str) -> HttpResponse:
    if processor not in Processor.values:
        return JsonResponse({"error": "unknown processor"}, status=404)
    try:
        outcome = webhook_receive(
            processor=processor, headers=dict(request.headers), body=request.body
        )
    except WebhookError as exc:
        return JsonResponse({"error": f"webhook refused: {exc}"}, status=400)
    except PaymentError as exc:
        # Not enabled, or PayPal could not be asked: the processor retries later.
        logger.warning("%s webhook not handled: %s", processor, exc)
        return JsonResponse({"error": str(exc)}, status=503)
    return JsonResponse({"outcome": outcome})


@require_GET
def paypal_return(request: HttpRequest, topup: int) -> HttpResponse:
    """Capture the order the payer approved at PayPal, then send them to the success page."""
    row = get_object_or_404(TopUp, pk=topup, processor=Processor.PAYPAL)
    order_id = request.GET.get("token", "")
    if order_id and order_id == row.external_id:
        try:
            topup_capture(order_id=order_id)
        except PaymentError as exc:
            logger.warning("PayPal capture of top-up %s failed: %s", row.pk, exc)
    return HttpResponseRedirect(row.success_url or "/")
