"""The certificate messages of a simulated charger: SignCertificate and the CSMS's commands.

1.6 security extension: ExtendedTriggerMessage (SignChargePointCertificate), CertificateSigned,
InstallCertificate, GetInstalledCertificateIds, DeleteCertificate. 2.x blocks A and M: the
same, with TriggerMessage SignChargingStationCertificate. The decisions are the charger's
certificate store (`certificates.py`); these mixins go before the version's answers in the
protocol classes' bases.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import call as v16_call
from ocpp.v16 import call_result as v16_result
from ocpp.v16.enums import Action

from apps.simulator.certificates import STATION_CERTIFICATE, Refused
from apps.simulator.protocol import SimulatorProtocol

# ExtendedTriggerMessage's messages that TriggerMessage already sends.
V16_TRIGGERED = ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")


class CertificateMessages(SimulatorProtocol):
    """SignCertificate, and taking the certificate CertificateSigned brings back."""

    def _sign_certificate_call(self, csr: str) -> Any:
        raise NotImplementedError

    async def sign_certificate(self) -> None:
        """Send a CSR for a new key; the certificate comes back in CertificateSigned."""
        sim = self.sim
        csr = sim.certificates.csr()
        sim.stats.certificate_requests += 1
        answer = await self.request(self._sign_certificate_call(csr))
        if answer is None:
            return
        if answer.status != "Accepted":
            reason = (getattr(answer, "status_info", None) or {}).get("reason_code", "")
            sim.error(f"SignCertificate {answer.status} {reason}".rstrip())
            return
        sim.note("certificate signing request accepted")

    def _take_signed(self, chain: str) -> tuple[str, str]:
        """Return (status, reason) of CertificateSigned for a chain."""
        sim = self.sim
        try:
            leaf = sim.certificates.certificate_signed(chain)
        except Refused as refused:
            sim.note(f"signed certificate refused: {refused.reason}: {refused}")
            return "Rejected", refused.reason
        sim.stats.certificates_signed += 1
        sim.note(f"station certificate {leaf.serial_number:x} installed")
        return "Accepted", ""

    def _install(self, certificate_type: str, certificate: str) -> tuple[str, str]:
        try:
            self.sim.certificates.install(certificate_type, certificate)
        except Refused as refused:
            return "Rejected", refused.reason
        self.sim.note(f"{certificate_type} installed")
        return "Accepted", ""


def _status_info(reason: str) -> dict[str, str] | None:
    return {"reason_code": reason} if reason else None


class V16CertificateAnswers(CertificateMessages):
    """The 1.6 security extension's certificate messages."""

    def _sign_certificate_call(self, csr: str) -> Any:
        return v16_call.SignCertificate(csr=csr)

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> v16_result.ExtendedTriggerMessage:
        if requested_message == "SignChargePointCertificate":
            self.later(lambda p: p.sign_certificate())  # type: ignore[attr-defined]
            return v16_result.ExtendedTriggerMessage(status="Accepted")
        if requested_message in V16_TRIGGERED:
            answer = self.on_trigger_message(  # type: ignore[attr-defined]
                requested_message=requested_message, connector_id=connector_id
            )
            return v16_result.ExtendedTriggerMessage(status=answer.status)
        return v16_result.ExtendedTriggerMessage(status="NotImplemented")

    @on(Action.certificate_signed)
    def on_certificate_signed(
        self, certificate_chain: str, **_: Any
    ) -> v16_result.CertificateSigned:
        status, _reason = self._take_signed(certificate_chain)
        return v16_result.CertificateSigned(status=status)

    @on(Action.install_certificate)
    def on_install_certificate(
        self, certificate_type: str, certificate: str, **_: Any
    ) -> v16_result.InstallCertificate:
        status, _reason = self._install(certificate_type, certificate)
        return v16_result.InstallCertificate(status=status)

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(
        self, certificate_type: str, **_: Any
    ) -> v16_result.GetInstalledCertificateIds:
        roots = self.sim.certificates.installed([certificate_type])
        if not roots:
            return v16_result.GetInstalledCertificateIds(status="NotFound")
        return v16_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data=[root.hash_data() for root in roots]
        )

    @on(Action.delete_certificate)
    def on_delete_certificate(
        self, certificate_hash_data: dict[str, str], **_: Any
    ) -> v16_result.DeleteCertificate:
        deleted = self.sim.certificates.delete(certificate_hash_data)
        return v16_result.DeleteCertificate(status="Accepted" if deleted else "NotFound")


class V2CertificateAnswers(CertificateMessages):
    """2.0.1 and 2.1 certificate messages (`_call`, `_call_result`: the version's payloads)."""

    _call: Any
    _call_result: Any

    def _sign_certificate_call(self, csr: str) -> Any:
        return self._call.SignCertificate(csr=csr, certificate_type=STATION_CERTIFICATE)

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **rest: Any
    ) -> Any:
        if requested_message == "SignChargingStationCertificate":
            self.later(lambda p: p.sign_certificate())  # type: ignore[attr-defined]
            return self._call_result.TriggerMessage(status="Accepted")
        return super().on_trigger_message(  # type: ignore[misc]
            requested_message=requested_message, evse=evse, **rest
        )

    @on("CertificateSigned")
    def on_certificate_signed(
        self, certificate_chain: str, certificate_type: str | None = None, **_: Any
    ) -> Any:
        if certificate_type not in (None, STATION_CERTIFICATE):  # no ISO 15118 here
            status, reason = "Rejected", "NotSupported"
        else:
            status, reason = self._take_signed(certificate_chain)
        return self._call_result.CertificateSigned(status=status, status_info=_status_info(reason))

    @on("InstallCertificate")
    def on_install_certificate(self, certificate_type: str, certificate: str, **_: Any) -> Any:
        status, reason = self._install(certificate_type, certificate)
        return self._call_result.InstallCertificate(status=status, status_info=_status_info(reason))

    @on("GetInstalledCertificateIds")
    def on_get_installed_certificate_ids(
        self, certificate_type: list[str] | None = None, **_: Any
    ) -> Any:
        roots = self.sim.certificates.installed(certificate_type)
        if not roots:
            return self._call_result.GetInstalledCertificateIds(status="NotFound")
        return self._call_result.GetInstalledCertificateIds(
            status="Accepted",
            certificate_hash_data_chain=[
                {
                    "certificate_type": root.certificate_type,
                    "certificate_hash_data": root.hash_data(),
                }
                for root in roots
            ],
        )

    @on("DeleteCertificate")
    def on_delete_certificate(self, certificate_hash_data: dict[str, str], **_: Any) -> Any:
        deleted = self.sim.certificates.delete(certificate_hash_data)
        return self._call_result.DeleteCertificate(status="Accepted" if deleted else "NotFound")
