"""Reads about simulators: where their chargers connect, how their fleet is set up."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from apps.chargers.models import ChargingStation
from apps.simulator.fleet import FleetConfig
from apps.simulator.models import SimulatedStation, Simulator

DEFAULT_URL = "ws://127.0.0.1:8000/ocpp/"


def simulator_target_url(*, simulator: Simulator, request: HttpRequest | None = None) -> str:
    """Return the endpoint the simulator's chargers connect to.

    Its own URL when set. Otherwise this server: the address and port the operator's request
    reached (the ASGI server's own socket, so no proxy in between), else PUBLIC_URL, else
    the default local port.
    """
    if simulator.url:
        return simulator.url
    if request is not None:
        host = request.META.get("SERVER_NAME", "")
        port = str(request.META.get("SERVER_PORT", ""))
        if port.isdigit() and port != "0":
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                host = "127.0.0.1"
            else:
                if address.is_unspecified:
                    host = "127.0.0.1"
                elif address.version == 6:
                    host = f"[{host}]"
            return f"ws://{host}:{port}/ocpp/"
    if settings.PUBLIC_URL:
        parts = urlsplit(settings.PUBLIC_URL)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/ocpp/"
    return DEFAULT_URL


def simulator_fleet_config(*, simulator: Simulator, url: str) -> FleetConfig:
    return FleetConfig(
        count=simulator.charger_count,
        url=url,
        version=simulator.ocpp_version.removeprefix("ocpp"),
        prefix=simulator.prefix,
        connectors=simulator.connectors,
        meter_interval=simulator.meter_interval,
        mode=simulator.mode,
        id_tag=simulator.id_tag,
        password=simulator.password,
        session_duration=simulator.session_duration,
        options={
            "organization": simulator.organization
            or ("" if simulator.url else settings.OCPP_CERTIFICATE_ORGANIZATION),
            "state_dir": str(simulator_state_dir()),
            "request_certificate": simulator.request_certificate,
        },
    )


def simulator_state_dir() -> Path:
    """Return where simulated chargers keep their keys and certificates."""
    return Path(settings.DATA_DIR) / "simulator"


def simulator_prefix_free() -> str:
    """Return SIM<n>- for the smallest n that no station id and no simulator prefix starts with.

    A new simulator's default, so that registering its chargers never meets a station that
    something else runs (SIM- is manage.py simulate's default).
    """
    n = 1
    while True:
        candidate = f"SIM{n}-"
        taken = (
            ChargingStation.objects.filter(charger_id__startswith=candidate).exists()
            or Simulator.objects.filter(prefix__startswith=candidate).exists()
        )
        if not taken:
            return candidate
        n += 1


def simulator_station_ids(*, simulator: Simulator) -> list[str]:
    """Return the charger ids of the stations the simulator created by registering."""
    return list(
        SimulatedStation.objects.filter(simulator=simulator)
        .order_by("station__charger_id")
        .values_list("station__charger_id", flat=True)
    )
