"""A local Odoo that speaks the external API over XML-RPC as Odoo documents it.

https://www.odoo.com/documentation/17.0/developer/reference/external_api.html:
`/xmlrpc/2/common` answers `version()` and `authenticate(db, login, password, {})` (the user's
id, or False); `/xmlrpc/2/object` answers `execute_kw(db, uid, password, model, method, args,
kwargs)`. Errors are XML-RPC faults with Odoo's codes (odoo/service/wsgi_server.py): 1
application error (the traceback as text), 2 warning / user error, 3 AccessDenied, 4
AccessError.

Records live in memory per model (res.users, res.groups, ir.model.data, product.product,
account.tax, res.partner, sale.order, sale.order.line); domains in Odoo's prefix notation
('|', '&', '!', and [field, op, value] with =, !=, in, not in, ilike, like) are evaluated;
`active` records only unless the context says `active_test: False`.

Failures a test can ask for: `fail_after` calls answered, every next one fails (`fail_mode`:
"drop" closes the connection without an answer, "503" answers HTTP 503, "lose" does the call
and then closes the connection without its answer); `fail_next` the next
n calls fail, then it answers again; `denied` (login, model) pairs get an AccessError.
"""

from __future__ import annotations

import copy
import threading
import traceback
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any
from xmlrpc.server import (
    MultiPathXMLRPCServer,
    SimpleXMLRPCDispatcher,
    SimpleXMLRPCRequestHandler,
)

DB = "constellation"
SERVICE_LOGIN = "api@example.com"
SERVICE_KEY = "0123456789abcdef-service-api-key"


def _matches(record: dict[str, Any], term: list[Any]) -> bool:
    name, op, value = term
    have = record.get(name)
    if isinstance(have, list) and op in ("=", "in"):
        wanted = value if isinstance(value, list) else [value]
        return bool(set(have) & set(wanted))
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    if op == "in":
        return have in value
    if op == "not in":
        return have not in value
    if op in ("ilike", "like"):
        if have in (False, None):
            return False
        if op == "ilike":
            return str(value).lower() in str(have).lower()
        return str(value) in str(have)
    raise xmlrpc.client.Fault(1, f"ValueError: Invalid domain operator {op!r}")


def _evaluate(record: dict[str, Any], domain: list[Any]) -> bool:
    """Evaluate a domain in Odoo's prefix notation (implicit '&' between terms)."""

    def parse(pos: int) -> tuple[bool, int]:
        item = domain[pos]
        if item == "!":
            value, nxt = parse(pos + 1)
            return not value, nxt
        if item in ("|", "&"):
            left, nxt = parse(pos + 1)
            right, nxt = parse(nxt)
            return (left or right) if item == "|" else (left and right), nxt
        return _matches(record, list(item)), pos + 1

    pos, result = 0, True
    while pos < len(domain):
        value, pos = parse(pos)
        result = result and value
    return result


@dataclass
class FakeOdoo:
    """The state of the fake server; tests read and change it."""

    base: str = ""
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # login -> password or API key
    calls: list[tuple[str, ...]] = field(default_factory=list)
    denied: set[tuple[str, str]] = field(default_factory=set)
    fail_after: int | None = None
    fail_next: int = 0
    fail_mode: str = "drop"
    version_major: int = 17
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.records = copy.deepcopy(SEED)
        self.passwords = {SERVICE_LOGIN: SERVICE_KEY}
        self.calls.clear()
        self.denied.clear()
        self.fail_after, self.fail_next, self.fail_mode = None, 0, "drop"
        self.version_major = 17

    # -- helpers for tests -------------------------------------------------------------------
    def add(self, model: str, **values: Any) -> int:
        table = self.records.setdefault(model, {})
        new_id = max(table, default=0) + 1
        table[new_id] = {"id": new_id, **values}
        return new_id

    def add_user(
        self,
        login: str,
        name: str,
        *,
        groups: list[int],
        password: str = "",
        active: bool = True,
        share: bool = False,
        email: str = "",
    ) -> int:
        uid = self.add(
            "res.users",
            login=login,
            name=name,
            email=email or False,
            active=active,
            share=share,
            groups_id=list(groups),
        )
        if password:
            self.passwords[login] = password
        return uid

    def object_calls(self, method: str | None = None) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == "object" and (method is None or c[2] == method)]

    # -- failures ----------------------------------------------------------------------------
    def should_fail(self) -> bool:
        """Count a call; say whether it fails (fail_next, then fail_after)."""
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return True
            if self.fail_after is not None:
                if self.fail_after <= 0:
                    return True
                self.fail_after -= 1
            return False

    # -- common ------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        self.calls.append(("common", "version"))
        major = self.version_major
        return {
            "server_version": f"{major}.0",
            "server_version_info": [major, 0, 0, "final", 0, ""],
            "server_serie": f"{major}.0",
            "protocol_version": 1,
        }

    def authenticate(self, db: str, login: str, password: str, env: dict[str, Any]) -> Any:
        self.calls.append(("common", "authenticate", login))
        self._check_db(db)
        users = self.records.get("res.users", {})
        for uid, user in users.items():
            if user["login"] == login and user.get("active", True):
                return uid if self.passwords.get(login) == password else False
        return False

    # -- object ------------------------------------------------------------------------------
    def execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self.calls.append(("object", model, method))
        self._check_db(db)
        user = self.records.get("res.users", {}).get(uid)
        if user is None or self.passwords.get(user["login"]) != password:
            raise xmlrpc.client.Fault(3, "Access Denied")
        if (user["login"], model) in self.denied:
            raise xmlrpc.client.Fault(
                4,
                f"You are not allowed to access '{model}' ({model}) records.\n\n"
                "This operation is allowed for the following groups:\n\t- Administration/Settings"
                "\n\nContact your administrator to request access if necessary.",
            )
        if model not in self.records:
            raise xmlrpc.client.Fault(1, _traceback(KeyError(model)))
        kwargs = kwargs or {}
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            raise xmlrpc.client.Fault(
                1, _traceback(AttributeError(f"The method '{method}' does not exist on '{model}'"))
            )
        return handler(model, *args, **kwargs)

    def _check_db(self, db: str) -> None:
        if db != DB:
            raise xmlrpc.client.Fault(
                1, _traceback(RuntimeError(f'FATAL:  database "{db}" does not exist'))
            )

    def _visible(self, model: str, domain: list[Any], context: dict[str, Any]) -> list[dict]:
        rows = list(self.records[model].values())
        mentions_active = any(isinstance(t, list) and t and t[0] == "active" for t in domain)
        if context.get("active_test", True) and not mentions_active:
            rows = [r for r in rows if r.get("active", True)]
        return [r for r in rows if _evaluate(r, domain)]

    @staticmethod
    def _fields(row: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        names = fields or list(row)
        out = {"id": row["id"]}
        for name in names:
            out[name] = copy.deepcopy(row.get(name, False))
        return out

    def _search_read(
        self,
        model: str,
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows = self._visible(model, domain or [], context or {})
        rows = rows[offset : offset + limit if limit else None]
        return [self._fields(r, fields) for r in rows]

    def _search(
        self,
        model: str,
        domain: list[Any],
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[int]:
        rows = self._visible(model, domain, context or {})
        return [r["id"] for r in rows[offset : offset + limit if limit else None]]

    def _read(
        self,
        model: str,
        ids: list[int],
        fields: list[str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        missing = [i for i in ids if i not in self.records[model]]
        if missing:
            raise xmlrpc.client.Fault(
                2, f"Record does not exist or has been deleted.\n(Record: {model}({missing[0]},))"
            )
        return [self._fields(self.records[model][i], fields) for i in ids]

    def _create(self, model: str, values: Any, context: dict[str, Any] | None = None) -> Any:
        if isinstance(values, list):
            return [self._create(model, each) for each in values]
        values = dict(values)
        if model == "sale.order":
            partner = values.get("partner_id")
            if partner not in self.records["res.partner"]:
                raise xmlrpc.client.Fault(2, "The operation cannot be completed: partner missing")
            lines = values.pop("order_line", [])
            order_id = self.add(model, state="draft", **values)
            line_ids = []
            for command in lines:
                if command[0] != 0:
                    raise xmlrpc.client.Fault(1, _traceback(ValueError("unsupported command")))
                line = dict(command[2])
                if line.get("product_id") not in self.records["product.product"]:
                    raise xmlrpc.client.Fault(2, "Record does not exist or has been deleted.")
                line_ids.append(self.add("sale.order.line", order_id=order_id, **line))
            self.records[model][order_id]["order_line"] = line_ids
            return order_id
        return self.add(model, **values)

    def _write(
        self,
        model: str,
        ids: list[int],
        values: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> bool:
        self._read(model, ids)
        for i in ids:
            self.records[model][i].update(values)
        return True


def _traceback(exc: Exception) -> str:
    # Odoo sends a code-1 fault's whole traceback as its faultString.
    try:
        raise exc
    except Exception:
        return "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception_only(type(exc), exc)
        )


SEED: dict[str, dict[int, dict[str, Any]]] = {
    "res.groups": {
        1: {"id": 1, "name": "Internal User", "full_name": "User types / Internal User"},
        2: {"id": 2, "name": "Settings", "full_name": "Administration / Settings"},
        3: {"id": 3, "name": "Administrator", "full_name": "Sales / Administrator"},
        4: {
            "id": 4,
            "name": "User: Own Documents Only",
            "full_name": "Sales / User: Own Documents Only",
        },
    },
    "ir.model.data": {
        1: {"id": 1, "module": "base", "name": "group_user", "model": "res.groups", "res_id": 1},
        2: {"id": 2, "module": "base", "name": "group_system", "model": "res.groups", "res_id": 2},
        3: {
            "id": 3,
            "module": "sales_team",
            "name": "group_sale_manager",
            "model": "res.groups",
            "res_id": 3,
        },
    },
    "res.users": {
        2: {
            "id": 2,
            "login": SERVICE_LOGIN,
            "name": "API",
            "email": False,
            "active": True,
            "share": False,
            "groups_id": [1, 2],
        },
    },
    "res.partner": {7: {"id": 7, "name": "Charging customers", "active": True}},
    "account.tax": {
        1: {"id": 1, "name": "22%", "amount": 22.0, "amount_type": "percent", "active": True},
        2: {"id": 2, "name": "10%", "amount": 10.0, "amount_type": "percent", "active": True},
    },
    "product.product": {
        11: {
            "id": 11,
            "name": "Charging energy AC",
            "default_code": "EV-AC",
            "list_price": 0.45,
            "taxes_id": [1],
            "sale_ok": True,
            "active": True,
        },
        12: {
            "id": 12,
            "name": "Charging energy DC fast",
            "default_code": "EV-DC",
            "list_price": 0.69,
            "taxes_id": [1],
            "sale_ok": True,
            "active": True,
        },
        13: {
            "id": 13,
            "name": "Parking hour",
            "default_code": False,
            "list_price": 2.0,
            "taxes_id": [2],
            "sale_ok": True,
            "active": True,
        },
        14: {
            "id": 14,
            "name": "Charging cable (internal)",
            "default_code": "EV-CABLE",
            "list_price": 0.0,
            "taxes_id": [],
            "sale_ok": False,
            "active": True,
        },
    },
    "sale.order": {},
    "sale.order.line": {},
}


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object")

    def do_POST(self) -> None:
        state: FakeOdoo = self.server.state  # type: ignore[attr-defined]
        if state.should_fail():
            state.calls.append(("failed", self.path))
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if state.fail_mode == "lose":
                # Done here, but the answer is lost on the way back.
                self.server._marshaled_dispatch(body, None, self.path)  # type: ignore[attr-defined]
            if state.fail_mode == "503":
                self.send_response(503, "Service Unavailable")
                self.send_header("Content-Length", "0")
                self.end_headers()
            # "drop": no answer at all; the client sees the connection closed.
            self.close_connection = True
            return
        super().do_POST()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeOdooServer:
    """Serve a FakeOdoo on a free loopback port in a thread (a context manager)."""

    def __init__(self) -> None:
        self.state = FakeOdoo()
        self.state.reset()
        self.server = MultiPathXMLRPCServer(
            ("127.0.0.1", 0), requestHandler=_Handler, allow_none=True, logRequests=False
        )
        self.server.state = self.state  # type: ignore[attr-defined]
        common = SimpleXMLRPCDispatcher(allow_none=True)
        common.register_function(self.state.version, "version")
        common.register_function(self.state.authenticate, "authenticate")
        obj = SimpleXMLRPCDispatcher(allow_none=True)
        obj.register_function(self.state.execute_kw, "execute_kw")
        self.server.add_dispatcher("/xmlrpc/2/common", common)
        self.server.add_dispatcher("/xmlrpc/2/object", obj)
        host, port = self.server.server_address[:2]
        self.state.base = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOdoo:
        self.thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
