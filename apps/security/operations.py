"""Security operations: password rotation, and the certificates of the station.

Password rotation: a new Basic password sent to the station, in force once it accepts.

It sends set_configuration's actions (1.6 AuthorizationKey, 2.x SecurityCtrlr/
BasicAuthPassword) for a purpose of its own, so it is not their primary operation; its
effects promote the pending password when the station accepts it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.forms import SOURCE, OperationForm
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.protocol.versions import V16
from apps.security import ca
from apps.security.certificates import (
    certificate_renewal_request,
    certificate_signed_send,
    installed_certificate_forget,
    installed_certificates_record,
)
from apps.security.models import CertificateKind, InstalledCertificate
from apps.security.services import (
    PASSWORD_KEY_2X,
    PASSWORD_KEY_16,
    station_password_promote,
    station_password_rotate,
)

ACCEPTED = ("Accepted", "RebootRequired")


class RotatePasswordForm(OperationForm):
    operation = "rotate_password"

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        return station_password_rotate(
            station=self.station, requested_by=requested_by, source=SOURCE
        )


def _authorization_key_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    if command.payload.get("key") == PASSWORD_KEY_16 and response["status"] in ACCEPTED:
        station_password_promote(station_id=command.station_id)


def _basic_auth_password_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    component, variable = PASSWORD_KEY_2X.split("/")
    for result in response.get("setVariableResult", []):
        if (
            result["component"]["name"] == component
            and result["variable"]["name"] == variable
            and result["attributeStatus"] in ACCEPTED
        ):
            station_password_promote(station_id=command.station_id)


register(
    Operation(
        name="rotate_password",
        label=_("Rotate password"),
        help_text=_("Send the station a new password; it takes over when the station accepts it."),
        actions=per_version(("ChangeConfiguration",), ("SetVariables",)),
        form=RotatePasswordForm,
        send=station_password_rotate,
        effects={
            "ChangeConfiguration": _authorization_key_answered,
            "SetVariables": _basic_auth_password_answered,
        },
        primary=False,
    )
)


# --- Certificates (1.6 security extension, 2.x functional blocks A and M) -------------------

INSTALL_TYPES_16 = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
INSTALL_TYPES_2X = (
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
)
INSTALLED_TYPES_2X = (
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
    "V2GCertificateChain",
)
SIGNED_TYPES_2X = (CertificateKind.CHARGING_STATION, CertificateKind.V2G)


def _is_v16(station: ChargingStation) -> bool:
    return station.protocol_version is V16


def install_certificate(
    *, station: ChargingStation, certificate_type: str, certificate: str = "", **options: Any
) -> ChargerCommand:
    """Install a root certificate on the station; none given: this CSMS's CA (its root)."""
    if not certificate:
        certificate = ca.certificate_pem(ca.ca_load().chain[-1])
    payload = {"certificateType": certificate_type, "certificate": certificate}
    return send_command(station=station, action="InstallCertificate", payload=payload, **options)


def delete_certificate(
    *,
    station: ChargingStation,
    hash_algorithm: str,
    issuer_name_hash: str,
    issuer_key_hash: str,
    serial_number: str,
    **options: Any,
) -> ChargerCommand:
    """Delete an installed certificate from the station, named by its hash data."""
    payload = {
        "certificateHashData": {
            "hashAlgorithm": hash_algorithm,
            "issuerNameHash": issuer_name_hash,
            "issuerKeyHash": issuer_key_hash,
            "serialNumber": serial_number,
        }
    }
    return send_command(station=station, action="DeleteCertificate", payload=payload, **options)


def get_installed_certificate_ids(
    *, station: ChargingStation, certificate_type: str = "", **options: Any
) -> ChargerCommand:
    """Ask which certificates the station has installed (2.x: of every type when none given)."""
    payload: dict[str, Any] = {}
    if _is_v16(station):
        payload["certificateType"] = certificate_type or INSTALL_TYPES_16[0]
    elif certificate_type:
        payload["certificateType"] = [certificate_type]
    return send_command(
        station=station, action="GetInstalledCertificateIds", payload=payload, **options
    )


class CertificateSignedForm(OperationForm):
    operation = "certificate_signed"

    certificate_chain = forms.CharField(
        label=_("certificate chain (PEM)"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 10, "class": "vLargeTextField"}),
        help_text=_("Signed elsewhere: the station's certificate first, then its sub-CAs."),
    )
    certificate_type = forms.ChoiceField(label=_("certificate type"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _is_v16(self.station):
            del self.fields["certificate_type"]
        else:
            self.fields["certificate_type"].choices = [("", "-"), *CertificateKind.choices[:2]]


class InstallCertificateForm(OperationForm):
    operation = "install_certificate"

    certificate_type = forms.ChoiceField(label=_("certificate type"))
    certificate = forms.CharField(
        label=_("certificate (PEM)"),
        max_length=5500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "vLargeTextField"}),
        help_text=_("Leave empty to install the certificate of this server's CA."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = INSTALL_TYPES_16 if _is_v16(self.station) else INSTALL_TYPES_2X
        self.fields["certificate_type"].choices = [(name, name) for name in types]


class DeleteCertificateForm(OperationForm):
    operation = "delete_certificate"

    installed = forms.ModelChoiceField(
        label=_("installed certificate"),
        queryset=InstalledCertificate.objects.none(),
        help_text=_("As the station last reported them (Get installed certificate ids)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["installed"].queryset = InstalledCertificate.objects.filter(
            station=self.station
        )

    def arguments(self) -> dict[str, Any]:
        installed: InstalledCertificate = self.cleaned_data["installed"]
        return {
            "hash_algorithm": installed.hash_algorithm,
            "issuer_name_hash": installed.issuer_name_hash,
            "issuer_key_hash": installed.issuer_key_hash,
            "serial_number": installed.serial_number,
        }


class GetInstalledCertificateIdsForm(OperationForm):
    operation = "get_installed_certificate_ids"

    certificate_type = forms.ChoiceField(label=_("certificate type"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["certificate_type"]
        if _is_v16(self.station):
            field.required = True
            field.choices = [(name, name) for name in INSTALL_TYPES_16]
        else:
            field.choices = [("", _("All")), *((name, name) for name in INSTALLED_TYPES_2X)]


class RenewCertificateForm(OperationForm):
    operation = "renew_certificate"

    kind = forms.ChoiceField(label=_("certificate"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _is_v16(self.station):
            del self.fields["kind"]
        else:
            self.fields["kind"].choices = list(CertificateKind.choices[:2])


def _installed_certificates_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    requested = command.payload.get("certificateType") or []
    if isinstance(requested, str):  # 1.6: one type, and the hashes without it
        chains = [
            {"certificateType": requested, "certificateHashData": data}
            for data in response.get("certificateHashData", [])
        ]
        requested = [requested]
    else:
        chains = response.get("certificateHashDataChain", [])
    installed_certificates_record(
        station_id=command.station_id, requested_types=requested, chains=chains
    )


def _certificate_deleted(command: ChargerCommand, response: dict[str, Any]) -> None:
    if response["status"] in ("Accepted", "NotFound"):
        installed_certificate_forget(
            station_id=command.station_id, hash_data=command.payload["certificateHashData"]
        )


register(
    Operation(
        name="certificate_signed",
        label=_("Send signed certificate"),
        help_text=_(
            "Send the station a certificate chain signed elsewhere. Certificates this "
            "server's CA signs are sent by themselves when the station asks."
        ),
        actions=per_version(("CertificateSigned",), ("CertificateSigned",)),
        form=CertificateSignedForm,
        send=certificate_signed_send,
    )
)
register(
    Operation(
        name="install_certificate",
        label=_("Install certificate"),
        help_text=_("Install a root certificate on the station (by default this server's CA)."),
        actions=per_version(("InstallCertificate",), ("InstallCertificate",)),
        form=InstallCertificateForm,
        send=install_certificate,
    )
)
register(
    Operation(
        name="delete_certificate",
        label=_("Delete certificate"),
        help_text=_("Delete a certificate installed on the station."),
        actions=per_version(("DeleteCertificate",), ("DeleteCertificate",)),
        form=DeleteCertificateForm,
        send=delete_certificate,
        effects={"DeleteCertificate": _certificate_deleted},
    )
)
register(
    Operation(
        name="get_installed_certificate_ids",
        label=_("Get installed certificate ids"),
        help_text=_("Ask which certificates the station has installed, and keep the list."),
        actions=per_version(("GetInstalledCertificateIds",), ("GetInstalledCertificateIds",)),
        form=GetInstalledCertificateIdsForm,
        send=get_installed_certificate_ids,
        effects={"GetInstalledCertificateIds": _installed_certificates_answered},
    )
)
register(
    Operation(
        name="renew_certificate",
        label=_("Renew certificate"),
        help_text=_(
            "Ask the station for a new certificate signing request; this server's CA signs "
            "it and sends the certificate back."
        ),
        actions=per_version(("ExtendedTriggerMessage",), ("TriggerMessage",)),
        form=RenewCertificateForm,
        send=certificate_renewal_request,
        primary=False,
    )
)
