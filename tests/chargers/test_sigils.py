"""The STATION root of sigils: `[STATION.<charger id>.<field>]`, registered by this app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from apps.chargers.models import ChargingStation, RegistrationStatus, Site
from apps.chargers.sigils import STATION_FIELDS
from apps.nodes.sigils import Problem, resolve, sigils_invalidate, sigils_resolve

pytestmark = pytest.mark.django_db

HASH = "pbkdf2_sha256$LEAK-hash"


@pytest.fixture(autouse=True)
def fresh_cache(settings) -> Iterator[None]:
    settings.SIGILS_CACHE_SECONDS = 3600  # changes must be seen through invalidation
    sigils_invalidate()
    with translation.override("en"):
        yield
    sigils_invalidate()


@pytest.fixture
def station() -> ChargingStation:
    site = Site.objects.create(name="Depot Nord")
    return ChargingStation.objects.create(
        charger_id="CP.01",
        name="Gate charger",
        site=site,
        vendor="ACME",
        model="Wallbox 22",
        serial_number="SN-9",
        firmware_version="4.2",
        ocpp_version="ocpp2.0.1",
        registration_status=RegistrationStatus.ACCEPTED,
        password_hash=HASH,
        pending_password_hash=HASH,
        iccid="LEAK-iccid",
        imsi="LEAK-imsi",
        connection_id="LEAK-connection",
    )


def expected_values() -> dict[str, str]:
    return {
        "charger_id": "CP.01",
        "name": "Gate charger",
        "site": "Depot Nord",
        "vendor": "ACME",
        "model": "Wallbox 22",
        "serial_number": "SN-9",
        "firmware_version": "4.2",
        "ocpp_version": "ocpp2.0.1",
        "registration": "Accepted",
        "status": "offline",
    }


def test_it_resolves_a_stations_fields_by_charger_id(station: ChargingStation) -> None:
    assert set(STATION_FIELDS) == set(expected_values())
    with translation.override("en"):
        for field, value in expected_values().items():
            assert resolve(f"[STATION.CP.01.{field}]") == value


def test_words_are_in_the_readers_language_each_cached_apart(station: ChargingStation) -> None:
    with translation.override("it"):
        assert resolve("[STATION.CP.01.registration] [STATION.CP.01.status]") == (
            "Accettata non connessa"
        )
    with translation.override("en"):
        assert resolve("[STATION.CP.01.registration] [STATION.CP.01.status]") == (
            "Accepted offline"
        )


def test_an_unknown_station_or_field_stays_as_typed(station: ChargingStation) -> None:
    text = "[STATION.CP-404.name] [STATION.CP.01.password_hash] [STATION.name]"
    resolution = sigils_resolve(text)
    assert resolution.text == text
    assert [part.problem for part in resolution.problems] == [
        Problem.KEY,
        Problem.FIELD,
        Problem.NEEDS_KEY,
    ]


def test_a_station_or_site_change_is_seen_at_once(
    station: ChargingStation, django_assert_num_queries
) -> None:
    assert resolve("[STATION.CP.01.name] [STATION.CP.01.site]") == "Gate charger Depot Nord"
    with django_assert_num_queries(0):
        assert resolve("[STATION.CP.01.name]") == "Gate charger"
    station.name = "Renamed"
    station.save(update_fields=["name"])
    assert resolve("[STATION.CP.01.name]") == "Renamed"
    station.site.name = "Depot Sud"
    station.site.save()
    assert resolve("[STATION.CP.01.site]") == "Depot Sud"
    # An unknown key is remembered too, and forgotten when the station appears.
    assert resolve("[STATION.CP-NEW.charger_id]") == "[STATION.CP-NEW.charger_id]"
    ChargingStation.objects.create(charger_id="CP-NEW")
    assert resolve("[STATION.CP-NEW.charger_id]") == "CP-NEW"


# Every name the model and its instances answer to, and then some.
MODEL_NAMES = sorted(
    {field.name for field in ChargingStation._meta.get_fields()}
    | {name for name in dir(ChargingStation) if not name.startswith("__") or name == "__class__"}
    | {"__class__", "__dict__", "_meta", "_state", "__init__", "password", "pk"}
)
fields = st.one_of(
    st.sampled_from(MODEL_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    st.from_regex(r"_{1,2}[a-z]{1,10}_{0,2}", fullmatch=True),
    st.text(st.characters(exclude_characters="[]", exclude_categories=("Cs",)), max_size=12),
)
keys = st.one_of(st.just("CP.01"), st.just("CP-404"), fields)


@hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(key=keys, field=fields)
def test_resolution_never_reaches_a_field_outside_the_allow_list(
    station: ChargingStation, key: str, field: str
) -> None:
    text = f"[STATION.{key}.{field}]"
    allowed = {f"[STATION.CP.01.{name}]": value for name, value in expected_values().items()}
    for secrets in (False, True):
        out = resolve(text, secrets=secrets)
        assert out == allowed.get(text, text)
        assert "LEAK" not in out


def test_the_preview_resolves_stations_only_for_users_who_may_see_them(
    station: ChargingStation, staff_client
) -> None:
    url = reverse("admin:nodes_node_sigils")
    text = {"text": "[STATION.CP.01.vendor]"}
    html = staff_client("nodes.view_node").post(url, text).content.decode()
    assert '<mark title="you may not see this root">[STATION.CP.01.vendor]</mark>' in html
    html = staff_client("nodes.view_node", "chargers.view_chargingstation").post(url, text)
    assert '<span class="sigil-value" title="[STATION.CP.01.vendor]">ACME</span>' in (
        html.content.decode()
    )
