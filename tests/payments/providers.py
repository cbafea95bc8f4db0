"""A local HTTP server that speaks Stripe's and PayPal's APIs as they document them.

Stripe (https://docs.stripe.com/api): form-encoded POSTs with `Authorization: Bearer <secret
key>`, JSON answers, errors as {"error": {...}}; webhooks signed with
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the endpoint
secret>`.

PayPal (https://developer.paypal.com/api/rest/): OAuth2 client credentials at
/v1/oauth2/token (HTTP Basic), Orders v2, captures' refunds, and
/v1/notifications/verify-webhook-signature, which checks the transmission signature: an
RSA-SHA256 signature of "<transmission id>|<transmission time>|<webhook id>|<CRC32 of the
event body>" made with the key of the certificate at `cert_url`.

PayPal answers under /live and /sandbox so a test can see which one the code called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}{time.time_ns() % 10**6:06d}"


def stripe_signature(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """Sign a webhook payload as Stripe does."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def paypal_canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Provider:
    """State of the fake providers; tests read and set it."""

    base: str = ""
    stripe_keys: set[str] = field(default_factory=set)
    paypal_clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    paypal_webhook_ids: set[str] = field(default_factory=set)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, credential)
    tokens: set[str] = field(default_factory=set)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def reset(self) -> None:
        for name in ("stripe_keys", "paypal_webhook_ids", "tokens"):
            getattr(self, name).clear()
        for name in ("paypal_clients", "sessions", "orders"):
            getattr(self, name).clear()
        self.refunds.clear()
        self.calls.clear()

    # -- Stripe ------------------------------------------------------------------------------
    def stripe_event(self, event_type: str, session_id: str, *, paid: bool = True) -> bytes:
        """Return the JSON of a Stripe event about a session, as Stripe would send it."""
        session = dict(self.sessions[session_id])
        session["status"] = "complete" if event_type.endswith("completed") else session["status"]
        if event_type == "checkout.session.expired":
            session["status"] = "expired"
        session["payment_status"] = "paid" if paid else "unpaid"
        if paid:
            session["payment_intent"] = session.get("payment_intent") or new_id("pi")
            self.sessions[session_id] = session
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "data": {"object": session},
        }
        return json.dumps(event).encode()

    # -- PayPal ------------------------------------------------------------------------------
    def paypal_approve(self, order_id: str, *, decline: bool = False) -> None:
        self.orders[order_id]["status"] = "APPROVED"
        self.orders[order_id]["decline"] = decline

    def paypal_sign(
        self, event: dict[str, Any], *, webhook_id: str, key: rsa.RSAPrivateKey | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Return (body, headers) of a PayPal webhook delivery, signed as PayPal signs."""
        body = paypal_canonical(event)
        transmission_id = new_id("tx")
        transmission_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
        signature = (key or self.key).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return body, {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": f"{self.base}/certs/paypal.pem",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }

    def paypal_verify(self, request: dict[str, Any]) -> bool:
        if request.get("auth_algo") != "SHA256withRSA":
            return False
        if not str(request.get("cert_url", "")).startswith(f"{self.base}/certs/"):
            return False
        if request.get("webhook_id") not in self.paypal_webhook_ids:
            return False
        body = paypal_canonical(request.get("webhook_event") or {})
        message = (
            f"{request.get('transmission_id')}|{request.get('transmission_time')}|"
            f"{request.get('webhook_id')}|{zlib.crc32(body)}"
        )
        try:
            self.key.public_key().verify(
                base64.b64decode(str(request.get("transmission_sig", ""))),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return False
        return True


def _handler(state: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", new_id("req"))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = urlsplit(self.path).path
            auth = self.headers.get("Authorization", "")
            if path.startswith("/v1/"):
                self.calls_append(path, auth)
                return self.stripe(path, auth, parse_qs(raw.decode(), keep_blank_values=True))
            for mode in ("/live", "/sandbox"):
                if path.startswith(mode + "/"):
                    self.calls_append(path, auth)
                    return self.paypal(mode, path[len(mode) :], auth, raw)
            return self._send(404, {"error": "no such path"})

        def calls_append(self, path: str, auth: str) -> None:
            state.calls.append(("POST", path, auth))

        # -- Stripe ----------------------------------------------------------------------
        def stripe(self, path: str, auth: str, form: dict[str, list[str]]) -> None:
            key = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer ") or key not in state.stripe_keys:
                return self._send(
                    401,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Invalid API Key provided.",
                        }
                    },
                )

            def one(name: str) -> str:
                return form.get(name, [""])[0]

            if path == "/v1/checkout/sessions":
                missing = [
                    name
                    for name in (
                        "mode",
                        "success_url",
                        "line_items[0][price_data][currency]",
                        "line_items[0][price_data][unit_amount]",
                        "line_items[0][quantity]",
                    )
                    if not one(name)
                ]
                if missing or one("mode") != "payment":
                    return self._send(
                        400,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "message": f"Missing required param: {missing}",
                            }
                        },
                    )
                session_id = new_id("cs_test")
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "open",
                    "payment_status": "unpaid",
                    "amount_total": int(one("line_items[0][price_data][unit_amount]")),
                    "currency": one("line_items[0][price_data][currency]"),
                    "client_reference_id": one("client_reference_id"),
                    "metadata": {"topup": one("metadata[topup]")},
                    "payment_intent": None,
                    "success_url": one("success_url"),
                    "cancel_url": one("cancel_url"),
                    "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                    "livemode": False,
                }
                state.sessions[session_id] = session
                return self._send(200, session)
            if path == "/v1/refunds":
                intent = one("payment_intent")
                paid = [s for s in state.sessions.values() if s.get("payment_intent") == intent]
                if not intent or not paid:
                    return self._send(
                        400,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "code": "resource_missing",
                                "message": f"No such payment_intent: '{intent}'",
                            }
                        },
                    )
                refund = {
                    "id": new_id("re"),
                    "object": "refund",
                    "amount": int(one("amount") or paid[0]["amount_total"]),
                    "currency": paid[0]["currency"],
                    "payment_intent": intent,
                    "status": "succeeded",
                }
                state.refunds.append(refund)
                return self._send(200, refund)
            return self._send(404, {"error": {"type": "invalid_request_error", "message": path}})

        # -- PayPal ----------------------------------------------------------------------
        def paypal(self, mode: str, path: str, auth: str, raw: bytes) -> None:
            if path == "/v1/oauth2/token":
                try:
                    client_id, secret = (
                        base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
                    )
                except Exception:
                    client_id, secret = "", ""
                if state.paypal_clients.get(client_id) != secret or not secret:
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "Client Authentication failed",
                        },
                    )
                if parse_qs(raw.decode()).get("grant_type") != ["client_credentials"]:
                    return self._send(400, {"error": "unsupported_grant_type"})
                token = new_id("A21AA")
                state.tokens.add(token)
                return self._send(
                    200, {"access_token": token, "token_type": "Bearer", "expires_in": 32400}
                )
            if auth.removeprefix("Bearer ") not in state.tokens:
                return self._send(
                    401, {"name": "AUTHENTICATION_FAILURE", "message": "invalid token"}
                )
            body = json.loads(raw or b"{}")
            parts = path.strip("/").split("/")
            if path == "/v2/checkout/orders":
                unit = body["purchase_units"][0]
                order_id = new_id("ORDER").upper()
                state.orders[order_id] = {
                    "id": order_id,
                    "status": "PAYER_ACTION_REQUIRED",
                    "unit": unit,
                    "mode": mode,
                }
                return self._send(
                    200,
                    {
                        "id": order_id,
                        "status": "PAYER_ACTION_REQUIRED",
                        "links": [
                            {
                                "href": f"{state.base}{mode}/v2/checkout/orders/{order_id}",
                                "rel": "self",
                                "method": "GET",
                            },
                            {
                                "href": f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}",
                                "rel": "payer-action",
                                "method": "GET",
                            },
                        ],
                    },
                )
            if parts[:3] == ["v2", "checkout", "orders"] and parts[-1] == "capture":
                order = state.orders.get(parts[3])
                if order is None:
                    return self._send(404, {"name": "RESOURCE_NOT_FOUND", "message": "no order"})
                if order["status"] == "PAYER_ACTION_REQUIRED":
                    return self._send(
                        422,
                        {
                            "name": "UNPROCESSABLE_ENTITY",
                            "details": [{"issue": "ORDER_NOT_APPROVED"}],
                            "message": "The requested action could not be performed.",
                        },
                    )
                if order.get("decline"):
                    return self._send(
                        422,
                        {
                            "name": "UNPROCESSABLE_ENTITY",
                            "details": [{"issue": "INSTRUMENT_DECLINED"}],
                            "message": "The instrument presented was declined.",
                        },
                    )
                unit = order["unit"]
                capture_id = order.get("capture_id") or new_id("CAP").upper()
                order.update(status="COMPLETED", capture_id=capture_id)
                return self._send(
                    201,
                    {
                        "id": order["id"],
                        "status": "COMPLETED",
                        "purchase_units": [
                            {
                                "reference_id": unit["reference_id"],
                                "payments": {
                                    "captures": [
                                        {
                                            "id": capture_id,
                                            "status": "COMPLETED",
                                            "amount": unit["amount"],
                                            "custom_id": unit.get("custom_id", ""),
                                        }
                                    ]
                                },
                            }
                        ],
                    },
                )
            if path == "/v1/notifications/verify-webhook-signature":
                ok = state.paypal_verify(body)
                return self._send(200, {"verification_status": "SUCCESS" if ok else "FAILURE"})
            if parts[:3] == ["v2", "payments", "captures"] and parts[-1] == "refund":
                capture_id = parts[3]
                if not any(o.get("capture_id") == capture_id for o in state.orders.values()):
                    return self._send(404, {"name": "RESOURCE_NOT_FOUND", "message": "no capture"})
                refund = {
                    "id": new_id("REF").upper(),
                    "status": "COMPLETED",
                    "amount": body.get("amount"),
                    "links": [
                        {
                            "rel": "up",
                            "href": f"{state.base}{mode}/v2/payments/captures/{capture_id}",
                        }
                    ],
                }
                state.refunds.append(refund)
                return self._send(201, refund)
            return self._send(404, {"name": "RESOURCE_NOT_FOUND", "message": path})

    return Handler


class ProviderServer:
    def __init__(self) -> None:
        self.state = Provider()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.state.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
