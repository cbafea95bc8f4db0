"""Counters a fleet of simulated chargers shares (one event loop: no locks needed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Stats:
    chargers: int = 0
    connected: int = 0  # now
    booted: int = 0  # now: connected and accepted by the CSMS
    connections: int = 0  # websocket connections opened, in all
    boots: int = 0  # BootNotifications accepted, in all
    sessions_started: int = 0
    sessions_stopped: int = 0
    messages_sent: int = 0  # frames: our CALLs and our answers to the CSMS's CALLs
    messages_received: int = 0
    commands: int = 0  # CALLs of the CSMS answered
    certificate_requests: int = 0  # SignCertificate sent
    certificates_signed: int = 0  # station certificates taken from CertificateSigned
    errors: int = 0
    last_error: str = ""

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)

    def line(self) -> str:
        """Return the counters as one short line for a progress display."""
        return (
            f"connected {self.connected}/{self.chargers}  booted {self.booted}  "
            f"sessions {self.sessions_started} started / {self.sessions_stopped} stopped  "
            f"messages {self.messages_sent} sent / {self.messages_received} received  "
            f"errors {self.errors}"
        )
