"""The transaction rules, called directly on the database (the socket tests prove the wire).

One test per rule of apps/transactions/services.py: 1.6 StartTransaction / StopTransaction /
MeterValues and 2.x TransactionEvent, each asserted on what the database holds afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction as db_transaction

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_connect, station_get_or_register
from apps.rfid.models import AuthorizationStatus, IdTag
from apps.transactions.models import MeterValue, Transaction, TransactionEvent
from apps.transactions.samples import SampledValue
from apps.transactions.services import (
    MAX_TRANSACTION_ID,
    meter_values_record,
    transaction_start,
    transaction_stop,
)
from apps.transactions.transaction_events import (
    OpenTransactionCache,
    TransactionEventData,
    transaction_event_record,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"


@pytest.fixture
def wallbox(settings) -> ChargingStation:
    """A 1.6 station registered on its first connection and connected."""
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    station = station_get_or_register(charger_id="CP-SVC-1")
    return station_connect(station=station, ocpp_version="ocpp1.6", connection_id="c-1")


@pytest.fixture
def station2(settings) -> ChargingStation:
    """A 2.0.1 station registered on its first connection and connected."""
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    station = station_get_or_register(charger_id="CS-SVC-2")
    return station_connect(station=station, ocpp_version="ocpp2.0.1", connection_id="c-2")


@pytest.fixture
def driver() -> IdTag:
    """An accepted id tag."""
    return IdTag.objects.create(id_tag="DRIVER-1", status=AuthorizationStatus.ACCEPTED)


def start(station: ChargingStation, connector_id: int = 1, id_tag: str = "DRIVER-1", **kw):
    """Call transaction_start with a session's usual values, overridable."""
    values = {"meter_start_wh": 1000, "started_at": T0, **kw}
    return transaction_start(
        station_id=station.pk, connector_id=connector_id, id_tag=id_tag, **values
    )


def energy(
    at: datetime, wh: str, context: str = "Sample.Periodic", unit: str = "Wh"
) -> SampledValue:
    """Return an energy register reading."""
    return SampledValue(timestamp=at, value=wh, measurand=ENERGY, unit=unit, context=context)


def event(
    event_type: str, seq_no: int, *, transaction_id: str = "TX-2", minutes: int | None = None, **kw
) -> TransactionEventData:
    """A TransactionEvent of the session TX-2, `minutes` (default: seq_no) after T0."""
    return TransactionEventData(
        event_type=event_type,
        transaction_id=transaction_id,
        seq_no=seq_no,
        timestamp=T0 + timedelta(minutes=seq_no if minutes is None else minutes),
        trigger_reason=kw.pop("trigger_reason", "Authorized"),
        payload={"seqNo": seq_no},
        **kw,
    )


def record(station: ChargingStation, data: TransactionEventData, **kw):
    """Apply a TransactionEvent of `station`."""
    return transaction_event_record(station_id=station.pk, event=data, **kw)


# --- 1.6 StartTransaction --------------------------------------------------------------------


def test_it_starts_a_session_on_the_connector_with_an_authorized_tag(wallbox, driver):
    tx, info = start(wallbox, connector_id=2, reservation_id=77)

    stored = Transaction.objects.select_related("connector").get()
    assert stored.pk == tx.pk
    assert stored.connector.connector_id == 2
    assert (stored.id_tag, stored.id_tag_ref, stored.authorization_status) == (
        "DRIVER-1",
        driver,
        "Accepted",
    )
    assert (stored.meter_start_wh, stored.started_at, stored.stopped_at) == (1000, T0, None)
    assert stored.reservation_id == 77
    assert info.status == "Accepted"
    assert info.tag == driver


def test_it_gives_each_session_a_new_positive_31_bit_transaction_id(wallbox, driver):
    ids = {start(wallbox, started_at=T0 + timedelta(hours=n))[0].transaction_id for n in range(5)}

    assert len(ids) == 5
    assert all(1 <= int(tx_id) <= MAX_TRANSACTION_ID for tx_id in ids)
    assert set(Transaction.objects.values_list("transaction_id", flat=True)) == ids


def test_it_replays_start_idempotently(wallbox, driver):
    first, _ = start(wallbox)
    again, info = start(wallbox)

    assert again.pk == first.pk
    assert again.transaction_id == first.transaction_id
    assert Transaction.objects.count() == 1
    assert info.status == "Accepted"


def test_it_answers_a_replayed_start_with_the_status_it_stored_first(wallbox, driver):
    running, _ = start(wallbox, connector_id=1)
    refused, info = start(wallbox, connector_id=2)
    assert info.status == "ConcurrentTx"
    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=running.transaction_id,
        meter_stop_wh=2000,
        stopped_at=T0 + timedelta(hours=1),
    )

    replayed, info = start(wallbox, connector_id=2)

    assert replayed.pk == refused.pk
    assert info.status == "ConcurrentTx"
    assert Transaction.objects.get(pk=refused.pk).authorization_status == "ConcurrentTx"


def test_it_stores_a_session_of_an_unknown_tag_as_invalid(wallbox):
    tx, info = start(wallbox, id_tag="NOBODY")

    assert info.status == "Invalid"
    stored = Transaction.objects.get(pk=tx.pk)
    assert (stored.id_tag, stored.id_tag_ref, stored.authorization_status) == (
        "NOBODY",
        None,
        "Invalid",
    )


def test_it_accepts_an_unknown_tag_when_charging_is_free(wallbox):
    tx, info = start(wallbox, id_tag="NOBODY", free_charging=True)

    assert info.status == "Accepted"
    assert Transaction.objects.get(pk=tx.pk).authorization_status == "Accepted"


def test_it_answers_concurrent_tx_for_a_tag_charging_elsewhere(wallbox, driver):
    start(wallbox, connector_id=1)

    second, info = start(wallbox, connector_id=2, started_at=T0 + timedelta(minutes=5))

    assert info.status == "ConcurrentTx"
    assert Transaction.objects.count() == 2  # stored all the same: the station has started
    assert Transaction.objects.get(pk=second.pk).authorization_status == "ConcurrentTx"


def test_it_accepts_a_tag_again_once_its_session_stopped(wallbox, driver):
    first, _ = start(wallbox, connector_id=1)
    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=first.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0 + timedelta(minutes=30),
    )

    second, info = start(wallbox, connector_id=2, started_at=T0 + timedelta(hours=1))

    assert info.status == "Accepted"
    assert Transaction.objects.get(pk=second.pk).authorization_status == "Accepted"


def test_it_stores_an_expired_tag_as_expired(wallbox):
    IdTag.objects.create(id_tag="OLD", expiry_date=T0 - timedelta(days=1))

    tx, info = start(wallbox, id_tag="OLD")

    assert info.status == "Expired"
    assert Transaction.objects.get(pk=tx.pk).authorization_status == "Expired"


def test_it_refuses_the_member_of_a_blocked_group(wallbox):
    group = IdTag.objects.create(id_tag="FLEET", status=AuthorizationStatus.BLOCKED)
    IdTag.objects.create(id_tag="FLEET-CAR-1", parent=group)

    tx, info = start(wallbox, id_tag="FLEET-CAR-1")

    assert info.status == "Blocked"
    assert info.parent_id_tag == "FLEET"
    assert Transaction.objects.get(pk=tx.pk).authorization_status == "Blocked"


# --- 1.6 StopTransaction ---------------------------------------------------------------------


def test_it_stops_a_session_with_its_meter_reason_and_tag(wallbox, driver):
    tx, _ = start(wallbox)
    stopped_at = T0 + timedelta(minutes=45)

    result = transaction_stop(
        station_id=wallbox.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=7400,
        stopped_at=stopped_at,
        reason="EVDisconnected",
        id_tag="DRIVER-1",
    )

    assert result is not None and result.pk == tx.pk
    stored = Transaction.objects.get(pk=tx.pk)
    assert (stored.meter_stop_wh, stored.stopped_at) == (7400, stopped_at)
    assert (stored.stop_reason, stored.stop_id_tag) == ("EVDisconnected", "DRIVER-1")


def test_it_names_a_stop_without_reason_local(wallbox, driver):
    tx, _ = start(wallbox)

    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=1200,
        stopped_at=T0 + timedelta(minutes=5),
    )

    assert Transaction.objects.get(pk=tx.pk).stop_reason == "Local"


def test_it_changes_nothing_on_a_second_stop(wallbox, driver):
    tx, _ = start(wallbox)
    first_stop = T0 + timedelta(minutes=10)
    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=2000,
        stopped_at=first_stop,
        reason="Remote",
    )

    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=9999,
        stopped_at=first_stop + timedelta(hours=1),
        reason="Local",
        id_tag="SOMEONE",
    )

    stored = Transaction.objects.get(pk=tx.pk)
    assert (stored.meter_stop_wh, stored.stopped_at, stored.stop_reason) == (
        2000,
        first_stop,
        "Remote",
    )
    assert stored.stop_id_tag == ""


def test_it_stores_the_stop_transaction_data_with_the_session(wallbox, driver):
    tx, _ = start(wallbox, connector_id=2)
    ended = T0 + timedelta(minutes=20)

    transaction_stop(
        station_id=wallbox.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=3000,
        stopped_at=ended,
        transaction_data=[
            energy(T0, "1000", "Transaction.Begin"),
            energy(ended, "3000", "Transaction.End"),
        ],
    )

    rows = list(MeterValue.objects.values_list("transaction_id", "connector_id", "context"))
    assert sorted(rows) == [
        (tx.pk, 2, "Transaction.Begin"),
        (tx.pk, 2, "Transaction.End"),
    ]


def test_it_keeps_the_readings_of_a_stop_of_an_unknown_session(wallbox):
    result = transaction_stop(
        station_id=wallbox.pk,
        transaction_id="4242",
        meter_stop_wh=3000,
        stopped_at=T0,
        transaction_data=[energy(T0, "3000", "Transaction.End")],
    )

    assert result is None
    assert Transaction.objects.count() == 0
    reading = MeterValue.objects.get()
    assert (reading.transaction_id, reading.connector_id, reading.value) == (None, 0, "3000")


# --- MeterValues -----------------------------------------------------------------------------


def test_it_links_readings_to_the_session_named_by_transaction_id(wallbox, driver):
    tx, _ = start(wallbox)

    meter_values_record(
        station_id=wallbox.pk,
        connector_id=1,
        transaction_id=tx.transaction_id,
        samples=[energy(T0 + timedelta(minutes=1), "1100")],
    )

    reading = MeterValue.objects.get()
    assert (reading.transaction_id, reading.connector_id, reading.value) == (tx.pk, 1, "1100")


def test_it_keeps_readings_of_an_unknown_session_without_a_session(wallbox):
    meter_values_record(
        station_id=wallbox.pk,
        connector_id=1,
        transaction_id="777",
        samples=[energy(T0, "1100")],
    )

    assert MeterValue.objects.get().transaction_id is None


def test_it_stores_a_replayed_reading_once(wallbox, driver):
    tx, _ = start(wallbox)
    samples = [
        energy(T0 + timedelta(minutes=1), "1100"),
        SampledValue(
            timestamp=T0 + timedelta(minutes=1),
            value="7.4",
            measurand="Power.Active.Import",
            unit="kW",
        ),
    ]

    for _ in range(2):
        meter_values_record(
            station_id=wallbox.pk,
            connector_id=1,
            transaction_id=tx.transaction_id,
            samples=samples,
        )

    assert MeterValue.objects.count() == 2


@pytest.mark.parametrize(
    ("sample", "normalized"),
    [
        (SampledValue(timestamp=T0, value="7.5", unit="kWh"), (7500.0, "Wh")),
        (SampledValue(timestamp=T0, value="1234"), (1234.0, "Wh")),  # the measurand's unit
        (
            SampledValue(timestamp=T0, value="11", measurand="Power.Active.Import", unit="kW"),
            (11000.0, "W"),
        ),
        (SampledValue(timestamp=T0, value="75", unit="Wh", multiplier=3), (75000.0, "Wh")),
        (
            SampledValue(timestamp=T0, value="300.15", measurand="Temperature", unit="K"),
            (pytest.approx(27.0), "Celsius"),
        ),
        (SampledValue(timestamp=T0, value="c2lnbmVk", format="SignedData"), (None, "")),
        (SampledValue(timestamp=T0, value="not a number", unit="Wh"), (None, "")),
        (SampledValue(timestamp=T0, value="1", unit="Wh", multiplier=400), (None, "")),
    ],
    ids=["kWh", "default", "kW", "multiplier", "kelvin", "signed", "text", "overflow"],
)
def test_it_normalises_readings_to_base_units_and_keeps_the_raw_value(wallbox, sample, normalized):
    meter_values_record(
        station_id=wallbox.pk, connector_id=1, transaction_id=None, samples=[sample]
    )

    reading = MeterValue.objects.get()
    assert (reading.normalized_value, reading.normalized_unit) == normalized
    assert (reading.value, reading.unit, reading.multiplier) == (
        sample.value,
        sample.unit,
        sample.multiplier,
    )


def test_it_names_the_energy_register_when_a_reading_names_no_measurand(wallbox):
    meter_values_record(
        station_id=wallbox.pk,
        connector_id=1,
        transaction_id=None,
        samples=[SampledValue(timestamp=T0, value="5")],
    )

    assert MeterValue.objects.get().measurand == ENERGY


def test_it_cuts_only_the_name_of_a_unit_longer_than_its_column(wallbox):
    meter_values_record(
        station_id=wallbox.pk,
        connector_id=1,
        transaction_id=None,
        samples=[SampledValue(timestamp=T0, value="12.5", measurand="RPM", unit="X" * 20)],
    )

    reading = MeterValue.objects.get()
    assert reading.unit == "X" * MeterValue._meta.get_field("unit").max_length
    assert (reading.value, reading.normalized_value) == ("12.5", 12.5)


def test_it_refuses_a_multiplier_no_column_holds_and_stores_nothing(wallbox):
    with pytest.raises(ValueError, match="multiplier"):
        meter_values_record(
            station_id=wallbox.pk,
            connector_id=1,
            transaction_id=None,
            samples=[
                SampledValue(timestamp=T0, value="1"),
                SampledValue(timestamp=T0 + timedelta(seconds=1), value="1", multiplier=2**15),
            ],
        )

    assert MeterValue.objects.count() == 0


# --- 2.x TransactionEvent --------------------------------------------------------------------


def test_it_opens_a_session_from_a_started_event(station2, driver):
    tx, info = record(
        station2,
        event(
            "Started",
            0,
            evse_id=2,
            id_token="DRIVER-1",
            id_token_type="ISO14443",
            charging_state="Charging",
            remote_start_id=31,
            reservation_id=8,
            samples=(energy(T0, "1.5", "Transaction.Begin", unit="kWh"),),
        ),
    )

    stored = Transaction.objects.select_related("connector").get()
    assert stored.pk == tx.pk
    assert (stored.transaction_id, stored.connector.connector_id) == ("TX-2", 2)
    assert (stored.id_tag, stored.id_tag_ref, stored.authorization_status) == (
        "DRIVER-1",
        driver,
        "Accepted",
    )
    assert (stored.started_at, stored.meter_start_wh) == (T0, 1500)
    assert (stored.remote_start_id, stored.reservation_id) == (31, 8)
    assert (stored.charging_state, stored.last_seq_no, stored.stopped_at) == ("Charging", 0, None)
    assert list(TransactionEvent.objects.values_list("seq_no", "event_type")) == [(0, "Started")]
    assert MeterValue.objects.get().connector_id == 2
    assert info is not None and info.status == "Accepted"


def test_it_takes_the_meter_start_from_a_periodic_reading_without_a_begin_one(station2):
    record(station2, event("Started", 0, samples=(energy(T0, "2500"),)))

    assert Transaction.objects.get().meter_start_wh == 2500


def test_it_replays_an_event_idempotently(station2, driver):
    record(station2, event("Started", 0, id_token="DRIVER-1", charging_state="Charging"))
    updated = event("Updated", 1, charging_state="SuspendedEV", samples=(energy(T0, "1200"),))
    record(station2, updated)

    record(station2, updated)

    assert TransactionEvent.objects.count() == 2
    assert MeterValue.objects.count() == 1
    stored = Transaction.objects.get()
    assert (stored.charging_state, stored.last_seq_no) == ("SuspendedEV", 1)


def test_it_answers_the_id_token_of_a_replayed_event_too(station2, driver):
    started = event("Started", 0, id_token="DRIVER-1", id_token_type="ISO14443")
    record(station2, started)

    _, info = record(station2, started)

    assert info is not None and info.status == "Accepted"
    assert TransactionEvent.objects.count() == 1


def test_it_opens_the_session_with_whichever_event_comes_first(station2, driver):
    record(
        station2,
        event("Updated", 1, charging_state="Charging", trigger_reason="ChargingStateChanged"),
    )
    record(station2, event("Started", 0, evse_id=1, id_token="DRIVER-1"))

    stored = Transaction.objects.get()
    assert stored.started_at == T0  # the Started event's time, earlier than the first seen
    assert stored.id_tag == "DRIVER-1"
    assert stored.connector is not None
    assert sorted(TransactionEvent.objects.values_list("seq_no", flat=True)) == [0, 1]


def test_it_keeps_the_state_of_the_highest_sequence_number(station2):
    record(station2, event("Started", 0, charging_state="Charging"))
    record(station2, event("Updated", 2, charging_state="SuspendedEV"))

    record(station2, event("Updated", 1, charging_state="EVConnected"))  # late

    stored = Transaction.objects.get()
    assert (stored.charging_state, stored.last_seq_no) == ("SuspendedEV", 2)
    assert TransactionEvent.objects.count() == 3


def test_it_ends_a_session_with_its_reason_and_final_meter(station2, driver):
    record(station2, event("Started", 0, id_token="DRIVER-1"))

    record(
        station2,
        event(
            "Ended",
            1,
            stopped_reason="EVDisconnected",
            charging_state="Idle",
            samples=(energy(T0, "4.2", "Transaction.End", unit="kWh"),),
        ),
    )

    stored = Transaction.objects.get()
    assert stored.stopped_at == T0 + timedelta(minutes=1)
    assert (stored.stop_reason, stored.meter_stop_wh) == ("EVDisconnected", 4200)


def test_it_names_an_ended_event_without_reason_local(station2):
    record(station2, event("Started", 0))
    record(station2, event("Ended", 1))

    assert Transaction.objects.get().stop_reason == "Local"


def test_it_records_who_stopped_a_session_started_by_another_token(station2, driver):
    IdTag.objects.create(id_tag="ATTENDANT")
    record(station2, event("Started", 0, id_token="DRIVER-1"))

    record(station2, event("Ended", 1, id_token="ATTENDANT"))

    stored = Transaction.objects.get()
    assert (stored.id_tag, stored.stop_id_tag) == ("DRIVER-1", "ATTENDANT")


def test_it_answers_concurrent_tx_when_a_token_starts_a_second_session(station2, driver):
    record(station2, event("Started", 0, transaction_id="TX-A", evse_id=1, id_token="DRIVER-1"))

    tx, info = record(
        station2, event("Started", 1, transaction_id="TX-B", evse_id=2, id_token="DRIVER-1")
    )

    assert info is not None and info.status == "ConcurrentTx"
    assert Transaction.objects.get(pk=tx.pk).authorization_status == "ConcurrentTx"


def test_it_accepts_a_token_that_needs_no_authorization(station2):
    tx, info = record(
        station2, event("Started", 0, id_token="UNKNOWN-EV", id_token_type="NoAuthorization")
    )

    assert info is not None and info.status == "Accepted"
    stored = Transaction.objects.get(pk=tx.pk)
    assert (stored.id_tag, stored.authorization_status) == ("UNKNOWN-EV", "Accepted")


def test_it_rejects_an_unknown_token_unless_charging_is_free(station2):
    _, refused = record(station2, event("Started", 0, transaction_id="TX-A", id_token="UNKNOWN-EV"))
    _, free = record(
        station2,
        event("Started", 0, transaction_id="TX-B", id_token="OTHER-EV"),
        free_charging=True,
    )

    assert (refused.status, free.status) == ("Invalid", "Accepted")
    assert dict(Transaction.objects.values_list("transaction_id", "authorization_status")) == {
        "TX-A": "Invalid",
        "TX-B": "Accepted",
    }


def test_it_keeps_a_session_offline_once_an_event_was(station2):
    record(station2, event("Started", 0, offline=True))
    record(station2, event("Updated", 1, offline=False))

    assert Transaction.objects.get().offline is True


# --- OpenTransactionCache --------------------------------------------------------------------


def test_it_applies_remembered_events_as_if_it_read_the_row(station2, driver):
    cache = OpenTransactionCache()
    record(station2, event("Started", 0, evse_id=3, id_token="DRIVER-1"), open_transactions=cache)
    assert cache.get("TX-2") is not None

    for seq_no, state in ((1, "Charging"), (2, "SuspendedEV")):
        at = T0 + timedelta(minutes=seq_no)
        record(
            station2,
            event("Updated", seq_no, charging_state=state, samples=(energy(at, str(seq_no)),)),
            open_transactions=cache,
        )

    stored = Transaction.objects.get()
    assert (stored.charging_state, stored.last_seq_no) == ("SuspendedEV", 2)
    assert TransactionEvent.objects.count() == 3
    readings = MeterValue.objects.values_list("transaction_id", "connector_id", "value")
    assert sorted(readings) == [(stored.pk, 3, "1"), (stored.pk, 3, "2")]


def test_it_reads_the_row_again_for_a_remembered_session_replay(station2):
    cache = OpenTransactionCache()
    record(station2, event("Started", 0, charging_state="Charging"), open_transactions=cache)
    record(station2, event("Updated", 1, charging_state="SuspendedEV"), open_transactions=cache)

    record(station2, event("Updated", 1, charging_state="Charging"), open_transactions=cache)

    stored = Transaction.objects.get()
    assert (stored.charging_state, stored.last_seq_no) == ("SuspendedEV", 1)
    assert TransactionEvent.objects.count() == 2


def test_it_forgets_a_session_once_it_ended(station2):
    cache = OpenTransactionCache()
    record(station2, event("Started", 0), open_transactions=cache)

    record(station2, event("Ended", 1), open_transactions=cache)

    assert cache.get("TX-2") is None
    assert Transaction.objects.get().stopped_at is not None


def test_it_forgets_a_session_whose_event_failed(station2):
    cache = OpenTransactionCache()
    record(station2, event("Started", 0), open_transactions=cache)
    unstorable = SampledValue(timestamp=T0, value="1", multiplier=2**15)

    # The savepoint stands for the group-commit job's, which undoes the failed event.
    with pytest.raises(ValueError), db_transaction.atomic():
        record(station2, event("Updated", 1, samples=(unstorable,)), open_transactions=cache)

    assert cache.get("TX-2") is None
    record(station2, event("Updated", 1, charging_state="Charging"), open_transactions=cache)
    stored = Transaction.objects.get()
    assert (stored.charging_state, stored.last_seq_no) == ("Charging", 1)
    assert TransactionEvent.objects.count() == 2


def test_it_remembers_a_bounded_number_of_sessions(station2):
    cache = OpenTransactionCache()
    ids = [f"TX-{n:02d}" for n in range(OpenTransactionCache.LIMIT + 1)]

    for tx_id in ids:
        record(station2, event("Started", 0, transaction_id=tx_id), open_transactions=cache)

    assert cache.get(ids[0]) is None  # the oldest gave way
    assert all(cache.get(tx_id) is not None for tx_id in ids[1:])
    assert Transaction.objects.count() == len(ids)
