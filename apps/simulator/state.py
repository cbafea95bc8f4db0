"""The plain state of a simulated charger: its configuration, connectors, sessions, reservations.

Dataclasses and small helpers with no I/O; `SimulatedCharger` (charger.py) owns and changes
them. The state speaks OCPP 1.6's vocabulary (connector statuses, stop reasons); the 2.x
protocol objects translate.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from apps.simulator.curve import Meter

VERSIONS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}
VENDOR = "Constellation"
SCRIPTED, IDLE = "scripted", "idle"
DEFAULT_ID_TAG = "SIM{n}-{c}"


def subprotocol_for(version: str) -> str:
    """Return the websocket subprotocol of "1.6", "2.0.1" or "2.1" (or of the subprotocol)."""
    version = version.removeprefix("ocpp")
    if version not in VERSIONS:
        raise ValueError(f"unknown OCPP version {version!r} (1.6, 2.0.1 or 2.1)")
    return VERSIONS[version]


def charger_url(base_url: str, charger_id: str) -> str:
    """Return the websocket URL of a charger: the endpoint with its id as the last segment."""
    return base_url.rstrip("/") + "/" + quote(charger_id, safe="")


def id_tag_for(template: str, number: int, connector_id: int) -> str:
    """Return the tag of a template such as SIM{n}-{c} for a charger number and connector."""
    return template.replace("{n}", str(number)).replace("{c}", str(connector_id))


def basic_auth_header(charger_id: str, password: str) -> str:
    token = base64.b64encode(f"{charger_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


@dataclass
class ChargerConfig:
    charger_id: str
    url: str  # the CSMS endpoint, e.g. ws://127.0.0.1:8000/ocpp/; the charger id is appended
    version: str = "1.6"
    connectors: int = 1
    meter_interval: float = 10.0  # seconds between meter samples during a session
    mode: str = SCRIPTED  # scripted: sessions one after another; idle: heartbeats only
    # The driver's tag of scripted sessions; {n} and {c} stand for the charger's number and
    # the connector, so that concurrent sessions do not share a tag (the CSMS would refuse).
    id_tag: str = DEFAULT_ID_TAG
    number: int = 1  # the charger's number in its fleet
    password: str = ""  # HTTP Basic password on the websocket handshake
    session_duration: float | None = None  # default: 6 meter intervals
    session_pause: float | None = None  # between scripted sessions; default: 2 meter intervals
    max_current_a: float = 32.0
    phases: int = 3
    ramp_s: float | None = None  # current ramp-up at session start; default: up to 4 s
    model: str = "Simulator"
    firmware_version: str = "sim-1.0"
    response_timeout: float = 30.0
    open_timeout: float = 10.0
    reboot_s: float = 1.0  # time a reset or firmware update keeps the charger offline
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    start_delay: float = 0.0  # wait before the first connection (fleets spread their start)
    validate: bool = True  # check our own messages against the OCPP schemas
    seed: int | str | None = None
    # Certificates (certificates.py): the O of the CSRs; where keys and certificates are
    # kept ("" = in memory); whether to ask for a station certificate after booting.
    organization: str = ""
    state_dir: str = ""
    request_certificate: bool = False


@dataclass
class Reservation:
    reservation_id: int
    id_tag: str
    expires_at: datetime


@dataclass
class Session:
    id_tag: str
    started_at: datetime
    meter_start_wh: int
    ends_at: float | None  # monotonic; None: until stopped
    next_sample_at: float
    remote_start_id: int | None = None
    reservation_id: int | None = None
    token_type: str = "ISO14443"  # 2.x idToken type
    transaction_id: str = ""  # 1.6: the CSMS's id; 2.x: ours
    seq_no: int = 0  # 2.x TransactionEvent sequence
    charging_state: str = "Charging"
    stop_reason: str = ""  # set: stop at the next opportunity (retried after a reconnect)

    def next_seq(self) -> int:
        self.seq_no += 1
        return self.seq_no - 1


@dataclass
class Connector:
    """A 1.6 connector, or a 2.x EVSE with its one connector."""

    connector_id: int
    meter: Meter
    status: str = "Available"  # 1.6 ChargePointStatus vocabulary
    operative: bool = True
    scheduled_operative: bool | None = None  # applied when the running session ends
    session: Session | None = None
    claimed: bool = False  # promised to a remote start that has not begun yet
    reservation: Reservation | None = None
    next_session_at: float = 0.0
    metered_at: float = 0.0  # monotonic time the meter was last advanced to
    reported: str = ""  # last status sent, in the version's vocabulary

    @property
    def busy(self) -> bool:
        return self.session is not None or self.claimed
