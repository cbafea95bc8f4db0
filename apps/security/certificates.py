"""Station certificates: signing CSRs with the CA, delivering, renewing, revoking; installed ones.

The writes of the certificate half of the security app (`services.py` holds events and
passwords). The CA itself, without a database, is `apps/security/ca.py`.

A CSR (SignCertificate, 1.6 security extension and 2.x) is checked while the station waits
for its answer: one it cannot have signed (unreadable, badly signed, another CN or O) is
answered Rejected and kept as a security event; one that passes is signed at once and its
certificate queued as a CertificateSigned command in the same transaction as the Accepted
answer, so an Accepted request always has its certificate on the way. The command is sent
after the answer, as its own CALL, like any command.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings
from django.db import transaction

from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand
from apps.commands.services import send_command
from apps.core.timeutil import utcnow
from apps.protocol.versions import V16, V21
from apps.security import ca
from apps.security.models import (
    CertificateKind,
    InstalledCertificate,
    IssuedCertificate,
    SecurityEvent,
)
from apps.security.services import security_event_record

logger = logging.getLogger("apps.security")

# The security event of a CSR we refused to sign.
CSR_REFUSED_EVENT = "CertificateSigningRequestRefused"
# Renewal asks a station again at most this often while its certificate is still due.
RENEWAL_REPEAT = dt.timedelta(days=1)
# TriggerMessage / ExtendedTriggerMessage's requested message for a new CSR of each kind.
RENEWAL_MESSAGE_16 = "SignChargePointCertificate"
RENEWAL_MESSAGE_2X = {
    CertificateKind.CHARGING_STATION: "SignChargingStationCertificate",
    CertificateKind.V2G: "SignV2GCertificate",
    CertificateKind.V2G20: "SignV2G20Certificate",
}


def certificate_signed_send(
    *,
    station: ChargingStation,
    certificate_chain: str,
    certificate_type: str = "",
    request_id: int | None = None,
    **options: Any,
) -> ChargerCommand:
    """Send the station a signed certificate chain (PEM, leaf first): CertificateSigned."""
    payload: dict[str, Any] = {"certificateChain": certificate_chain}
    if station.protocol_version is not V16 and certificate_type:
        payload["certificateType"] = certificate_type
    if station.protocol_version is V21 and request_id is not None:
        payload["requestId"] = request_id
    return send_command(station=station, action="CertificateSigned", payload=payload, **options)


def certificate_request_sign(
    *,
    station_id: int,
    charger_id: str,
    csr_pem: str,
    kind: str = CertificateKind.CHARGING_STATION,
    request_id: int | None = None,
) -> IssuedCertificate:
    """Sign a station's CSR with the CA, keep the certificate and send it to the station.

    Raise ca.CsrRefused, after recording a security event, when the CSR may not be signed
    (see ca.csr_check). The certificate goes out as a CertificateSigned command of the
    signing transaction.
    """
    try:
        csr = ca.csr_check(csr_pem=csr_pem, charger_id=charger_id)
    except ca.CsrRefused as refused:
        security_event_record(
            source=SecurityEvent.Source.CSMS,
            event_type=CSR_REFUSED_EVENT,
            charger_id=charger_id,
            station_id=station_id,
            tech_info=f"{kind}: {refused.reason}: {refused.detail}",
        )
        raise
    try:
        authority = ca.ca_load()
    except (OSError, ValueError) as exc:
        # The operator's CA files are missing or wrong: logged for the operator, and the
        # station told we cannot sign now (it asks again, A03: before its certificate ends).
        logger.exception("%s: the CA cannot be loaded; CSR not signed", charger_id)
        raise ca.CsrRefused("CAUnavailable", f"the CSMS's CA cannot be loaded: {exc}") from exc
    cert = ca.certificate_issue(
        ca=authority,
        subject=csr.subject,
        public_key=csr.public_key(),
        days=settings.OCPP_CERTIFICATE_VALIDITY_DAYS,
    )
    station = ChargingStation.objects.get(pk=station_id)
    pem = ca.certificate_pem(cert)
    try:
        delivery = certificate_signed_send(
            station=station,
            certificate_chain=pem + authority.chain_pem(),
            certificate_type=kind,
            request_id=request_id,
            source="csms",
        )
    except CommandError as exc:
        # Too many commands already wait for this station (OCPP_MAX_OUTSTANDING_COMMANDS),
        # recorded as a CommandLimitReached event: nothing is kept, the station may ask again.
        raise ca.CsrRefused("TooManyCommands", str(exc)) from exc
    issued = IssuedCertificate.objects.create(
        station=station,
        kind=kind,
        serial=format(cert.serial_number, "x"),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pem=pem,
        delivery=delivery,
    )
    logger.info("%s: signed certificate %s (%s)", charger_id, issued.serial, kind)
    return issued


# RFC 5280 reasons an operator revokes a station's certificate for (CRL reason codes).
REVOCATION_REASONS = (
    x509.ReasonFlags.unspecified,
    x509.ReasonFlags.key_compromise,
    x509.ReasonFlags.superseded,
    x509.ReasonFlags.cessation_of_operation,
    x509.ReasonFlags.affiliation_changed,
    x509.ReasonFlags.privilege_withdrawn,
)


def issued_certificate_revoke(*, certificate: IssuedCertificate, reason: str) -> bool:
    """Revoke a certificate we issued (it goes on the CRL); False if it already was.

    `reason` is an RFC 5280 reason code (REVOCATION_REASONS' values: "keyCompromise", ...).
    """
    if reason not in {flag.value for flag in REVOCATION_REASONS}:
        raise ValueError(f"not a revocation reason: {reason!r}")
    with transaction.atomic():
        updated = IssuedCertificate.objects.filter(pk=certificate.pk, revoked_at=None).update(
            revoked_at=utcnow(), revocation_reason=reason
        )
        if updated:
            security_event_record(
                source=SecurityEvent.Source.CSMS,
                event_type="CertificateRevoked",
                charger_id=certificate.station.charger_id,
                station_id=certificate.station_id,
                tech_info=f"serial {certificate.serial}: {reason}",
            )
    certificate.refresh_from_db(fields=["revoked_at", "revocation_reason"])
    return bool(updated)


def certificate_revocation_list() -> str:
    """Return the CA's CRL (PEM) listing every certificate we revoked, valid for a day."""
    authority = ca.ca_load()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
    )
    revoked = IssuedCertificate.objects.exclude(revoked_at=None).values_list(
        "serial", "revoked_at", "revocation_reason"
    )
    for serial, revoked_at, reason in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial, 16))
            .revocation_date(revoked_at)
        )
        if reason and reason != x509.ReasonFlags.unspecified.value:  # RFC 5280: then omitted
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags(reason)), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(authority.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_renewal_request(
    *,
    station: ChargingStation,
    kind: str = CertificateKind.CHARGING_STATION,
    **options: Any,
) -> ChargerCommand:
    """Ask the station for a new CSR: 1.6 ExtendedTriggerMessage, 2.x TriggerMessage."""
    if station.protocol_version is V16:
        if kind != CertificateKind.CHARGING_STATION:
            raise ValueError("OCPP 1.6 stations have charge point certificates only")
        return send_command(
            station=station,
            action="ExtendedTriggerMessage",
            payload={"requestedMessage": RENEWAL_MESSAGE_16},
            **options,
        )
    message = RENEWAL_MESSAGE_2X[CertificateKind(kind)]
    return send_command(
        station=station,
        action="TriggerMessage",
        payload={"requestedMessage": message},
        **options,
    )


def certificates_due_for_renewal(*, now: dt.datetime | None = None) -> list[IssuedCertificate]:
    """Return each station's newest valid certificate of a kind that expires within the period.

    Only ones not asked about in the last RENEWAL_REPEAT, of stations that are connected.
    """
    now = now or utcnow()
    horizon = now + dt.timedelta(days=settings.OCPP_CERTIFICATE_RENEWAL_DAYS)
    newest: dict[tuple[int, str], IssuedCertificate] = {}
    valid = IssuedCertificate.objects.filter(revoked_at=None, not_after__gt=now)
    # Only the stations with a certificate ending soon, and all their valid ones: a newer
    # certificate of the same kind means the old one was renewed already.
    due_stations = valid.filter(not_after__lte=horizon).values("station_id")
    candidates = (
        valid.filter(station_id__in=due_stations)
        .select_related("station")
        .order_by("issued_at", "id")
    )
    for certificate in candidates:
        newest[(certificate.station_id, certificate.kind)] = certificate
    repeat_before = now - RENEWAL_REPEAT
    return [
        certificate
        for certificate in newest.values()
        if certificate.not_after <= horizon
        and certificate.station.is_connected
        and (
            certificate.renewal_requested_at is None
            or certificate.renewal_requested_at <= repeat_before
        )
        # A 1.6 station has one certificate to renew: its charge point certificate.
        and (
            certificate.station.protocol_version is not V16
            or certificate.kind == CertificateKind.CHARGING_STATION
        )
    ]


def certificates_renew(*, now: dt.datetime | None = None) -> int:
    """Ask every station whose certificate is due for renewal for a new CSR; return how many."""
    now = now or utcnow()
    asked = 0
    for certificate in certificates_due_for_renewal(now=now):
        try:
            certificate_renewal_request(
                station=certificate.station, kind=certificate.kind, source="csms"
            )
        except ValueError:
            logger.warning(
                "%s: could not ask for a new certificate",
                certificate.station.charger_id,
                exc_info=True,
            )
            continue
        certificate.renewal_requested_at = now
        certificate.save(update_fields=["renewal_requested_at"])
        asked += 1
    return asked


def installed_certificates_record(
    *, station_id: int, requested_types: list[str], chains: list[dict[str, Any]]
) -> int:
    """Replace the station's installed certificates of the requested types by its report.

    `chains` are (certificateType, certificateHashData) pairs as dicts; an empty
    `requested_types` (2.x: every type) replaces them all. Return how many are kept.
    """
    now = utcnow()
    with transaction.atomic():
        current = InstalledCertificate.objects.filter(station_id=station_id)
        if requested_types:
            current = current.filter(certificate_type__in=requested_types)
        current.delete()
        rows = [
            InstalledCertificate(
                station_id=station_id,
                certificate_type=chain["certificateType"],
                hash_algorithm=data["hashAlgorithm"],
                issuer_name_hash=data["issuerNameHash"],
                issuer_key_hash=data["issuerKeyHash"],
                serial_number=data["serialNumber"],
                reported_at=now,
            )
            for chain in chains
            for data in [chain["certificateHashData"], *chain.get("childCertificateHashData", [])]
        ]
        InstalledCertificate.objects.bulk_create(rows)
    return len(rows)


def installed_certificate_forget(*, station_id: int, hash_data: dict[str, Any]) -> int:
    """Forget an installed certificate the station deleted (or no longer has)."""
    deleted, _ = InstalledCertificate.objects.filter(
        station_id=station_id,
        hash_algorithm=hash_data["hashAlgorithm"],
        issuer_name_hash__iexact=hash_data["issuerNameHash"],
        issuer_key_hash__iexact=hash_data["issuerKeyHash"],
        serial_number__iexact=hash_data["serialNumber"],
    ).delete()
    return deleted
