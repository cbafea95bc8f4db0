from __future__ import annotations

from django.urls import path

from apps.payments import views

app_name = "payments"

urlpatterns = [
    path("webhooks/<slug:processor>/", views.webhook, name="webhook"),
    path("paypal/return/<int:topup>/", views.paypal_return, name="paypal-return"),
]
