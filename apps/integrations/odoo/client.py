"""Odoo's external API over XML-RPC (`/xmlrpc/2/common`, `/xmlrpc/2/object`), as Odoo documents it.

The contract the rest of the app uses: `OdooClient` (`version`, `authenticate`, `execute_kw`
and its shorthands) and one error, `OdooError(message, permanent=...)`:

- permanent: bad credentials (`authenticate` answers False, or a fault with code 3
  AccessDenied), an access error (code 4), a warning / user error (code 2), any other fault
  (code 1: the server raised; sending it again gives the same answer). Never retried.
- transient: the server cannot be reached (connection refused, reset, timeout) or answers
  with HTTP 502 / 503 / 504 / 429 (a proxy in front of a restarting Odoo). Retried with
  exponential backoff, ODOO_RETRIES times at most, then raised. A `create` is the exception:
  sent once, since Odoo may have done it and lost only the answer (the caller looks for the
  record before it tries again).

Odoo's fault codes are those of odoo/service/wsgi_server.py (`RPC_FAULT_CODE_*`).
"""

from __future__ import annotations

import http.client
import logging
import socket
import time
import xmlrpc.client
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger("apps.integrations.odoo")

FAULT_APPLICATION_ERROR = 1
FAULT_WARNING = 2
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4
# HTTP statuses of a server that is (re)starting or overloaded: worth another try.
TRANSIENT_HTTP = frozenset({429, 502, 503, 504})


class OdooError(Exception):
    """An Odoo call failed; `permanent` says whether sending it again could help."""

    def __init__(self, message: str, *, permanent: bool, fault_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.fault_code = fault_code


class _TimeoutMixin:
    """A transport with a timeout, sending each request once: OdooClient does the retrying."""

    timeout: float

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)  # type: ignore[misc]
        conn.timeout = self.timeout
        return conn

    def request(self, host: Any, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        # xmlrpc.client resends once, silently, when the server drops the connection (for a
        # kept-alive connection gone cold); each of our proxies has a fresh connection, and
        # every attempt is to be counted and backed off.
        return self.single_request(host, handler, request_body, verbose)  # type: ignore[attr-defined]


class TimeoutTransport(_TimeoutMixin, xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout


class TimeoutSafeTransport(_TimeoutMixin, xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout


def _first_line(text: str) -> str:
    # A code-1 fault carries the server's whole traceback: its last line says what happened.
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:300]


class OdooClient:
    """One Odoo database reached as one user (login and API key or password)."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        login: str,
        secret: str,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.login = login
        self._secret = secret
        self.timeout = float(timeout if timeout is not None else settings.ODOO_TIMEOUT)
        self.retries = int(retries if retries is not None else settings.ODOO_RETRIES)
        self.backoff = float(backoff if backoff is not None else settings.ODOO_RETRY_BACKOFF)
        self._sleep = sleep
        self._uid: int | None = None
        self.attempts = 0  # every request sent, retries included (read by tests and logs)

    def __repr__(self) -> str:
        # Never let the secret reach a log line or a traceback through repr().
        return f"OdooClient(url={self.url!r}, database={self.database!r}, login={self.login!r})"

    def _proxy(self, endpoint: str) -> xmlrpc.client.ServerProxy:
        address = f"{self.url}/xmlrpc/2/{endpoint}"
        transport: xmlrpc.client.Transport
        if address.startswith("https://"):
            transport = TimeoutSafeTransport(self.timeout)
        else:
            transport = TimeoutTransport(self.timeout)
        return xmlrpc.client.ServerProxy(address, transport=transport, allow_none=True)

    def _call(self, endpoint: str, method: str, *args: Any, retry: bool = True) -> Any:
        """Send one call; retry transient failures with backoff; classify the failure.

        `retry=False` for a call that must not be sent twice blindly (a create: Odoo may have
        done it and only its answer was lost); the caller looks before it tries again.
        """
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            try:
                return getattr(self._proxy(endpoint), method)(*args)
            except xmlrpc.client.Fault as fault:
                raise self._fault_error(fault) from None
            except xmlrpc.client.ProtocolError as exc:
                if exc.errcode not in TRANSIENT_HTTP:
                    raise OdooError(
                        _("Odoo at %(url)s answered HTTP %(code)s %(reason)s.")
                        % {"url": self.url, "code": exc.errcode, "reason": exc.errmsg},
                        permanent=True,
                    ) from None
                error = OdooError(
                    _("Odoo at %(url)s is unavailable (HTTP %(code)s).")
                    % {"url": self.url, "code": exc.errcode},
                    permanent=False,
                )
            except (OSError, http.client.HTTPException) as exc:
                # Refused, reset, timed out, name not resolved, or a connection dropped
                # halfway through an answer (http.client's RemoteDisconnected, BadStatusLine).
                reason = "timed out" if isinstance(exc, socket.timeout) else str(exc) or repr(exc)
                error = OdooError(
                    _("Odoo at %(url)s cannot be reached: %(reason)s.")
                    % {"url": self.url, "reason": reason},
                    permanent=False,
                )
            except (xmlrpc.client.ResponseError, ExpatError) as exc:
                raise OdooError(
                    _("Odoo at %(url)s sent an unreadable answer: %(reason)s.")
                    % {"url": self.url, "reason": exc},
                    permanent=True,
                ) from None
            if not retry or attempt > self.retries:
                raise error
            delay = self.backoff * (2 ** (attempt - 1))
            logger.warning(
                "odoo %s %s.%s: %s; retry %d of %d in %.1fs",
                self.url,
                endpoint,
                method,
                error,
                attempt,
                self.retries,
                delay,
            )
            if delay > 0:
                self._sleep(delay)

    def _fault_error(self, fault: xmlrpc.client.Fault) -> OdooError:
        code = fault.faultCode
        text = _first_line(fault.faultString)
        if code == FAULT_ACCESS_DENIED:
            message = _("Odoo refused the credentials of %(login)s on database %(db)s.") % {
                "login": self.login,
                "db": self.database,
            }
        elif code == FAULT_ACCESS_ERROR:
            message = _("Odoo denied access: %(detail)s") % {"detail": text}
        elif code == FAULT_WARNING:
            message = _("Odoo refused the request: %(detail)s") % {"detail": text}
        else:
            message = _("Odoo failed: %(detail)s") % {"detail": text or code}
        return OdooError(
            message, permanent=True, fault_code=code if isinstance(code, int) else None
        )

    # -- common ------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """Return the server's version information (no credentials needed)."""
        return self._call("common", "version")

    def authenticate(self) -> int:
        """Check the credentials; return the user's id. Bad credentials: a permanent error."""
        uid = self._call("common", "authenticate", self.database, self.login, self._secret, {})
        if not uid:
            raise OdooError(
                _("Odoo refused the credentials of %(login)s on database %(db)s.")
                % {"login": self.login, "db": self.database},
                permanent=True,
                fault_code=FAULT_ACCESS_DENIED,
            )
        self._uid = int(uid)
        return self._uid

    @property
    def uid(self) -> int:
        if self._uid is None:
            return self.authenticate()
        return self._uid

    # -- object ------------------------------------------------------------------------------
    def execute_kw(
        self,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
        *,
        retry: bool = True,
    ) -> Any:
        uid = self.uid
        return self._call(
            "object",
            "execute_kw",
            self.database,
            uid,
            self._secret,
            model,
            method,
            args,
            kwargs or {},
            retry=retry,
        )

    def search_read(
        self,
        model: str,
        domain: list[Any],
        *,
        fields: list[str],
        limit: int | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields}
        if limit is not None:
            kwargs["limit"] = limit
        if context:
            kwargs["context"] = context
        return self.execute_kw(model, "search_read", [domain], kwargs)

    def read(self, model: str, ids: list[int], *, fields: list[str]) -> list[dict[str, Any]]:
        return self.execute_kw(model, "read", [ids], {"fields": fields})

    def create(self, model: str, values: dict[str, Any]) -> int:
        """Create one record; sent once (never retried: see `_call`)."""
        created = self.execute_kw(model, "create", [values], retry=False)
        # Odoo 17+ create takes a list and may answer a list of ids.
        return int(created[0] if isinstance(created, list) else created)

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> bool:
        return bool(self.execute_kw(model, "write", [ids, values]))
