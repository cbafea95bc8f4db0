"""What the readings of a running session cost in statements: OCPP 1.6 MeterValues and 2.0.1
TransactionEvent(Updated), the most frequent charger messages.

Run as the group-commit job runs them, a batch of FRAMES frames from as many chargers;
what is counted, and what is not, is said in tests/statement_counting.py. Their jobs run no
statement at all: their rows (and a 2.x session's update) go in with the batch, one
statement per table for the whole batch. A change of these numbers is a change of the
per-message cost: measure it (scripts/frame_cost.py).
"""

from __future__ import annotations

import pytest

from apps.ocpp.connection import ChargerConnection
from apps.protocol.versions import V16, V201
from tests.statement_counting import call, connect, flushed, run_frames, savepoints

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = 3
LOG = flushed("ocpp_messagelog", 2 * FRAMES)  # each frame and its answer, with the batch


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}Z"


def test_meter_values_cost_no_statement_of_their_own(django_assert_num_queries):
    chargers = connect(V16, [f"COUNT-MV-{n}" for n in range(FRAMES)])
    start = {"connectorId": 1, "idTag": "COUNT", "meterStart": 0, "timestamp": at(0)}
    started = run_frames([(charger, call("StartTransaction", start)) for charger in chargers])
    transaction_ids = [reply[2]["transactionId"] for reply in started.replies]

    def meter_values(transaction_id: int) -> str:
        sample = {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        reading = {"timestamp": at(10), "sampledValue": [sample]}
        payload = {"connectorId": 1, "transactionId": transaction_id, "meterValue": [reading]}
        return call("MeterValues", payload)

    frames = [(s, meter_values(tx)) for s, tx in zip(chargers, transaction_ids, strict=True)]
    with django_assert_num_queries(2):  # BEGIN, COMMIT
        counted = run_frames(frames)
    orm, kit = counted.kinds()
    assert orm == ["BEGIN", "COMMIT"]
    # The readings' session is found by a subquery of their INSERT (sqlkit.Lookup).
    assert kit == [flushed("transactions_metervalue", FRAMES), LOG]
    assert [reply[2] for reply in counted.replies] == [{}] * FRAMES


def event(n: int, event_type: str, seq_no: int, second: int | None = None) -> str:
    payload = {
        "eventType": event_type,
        "timestamp": at(seq_no if second is None else second),
        "seqNo": seq_no,
        "triggerReason": "Authorized" if event_type == "Started" else "MeterValuePeriodic",
        "transactionInfo": {"transactionId": f"count-{n}"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [
            {
                "timestamp": at(seq_no),
                "sampledValue": [{"value": seq_no, "measurand": "Energy.Active.Import.Register"}],
            }
        ],
    }
    if event_type == "Started":
        payload["idToken"] = {"idToken": "COUNT", "type": "ISO14443"}
    return call("TransactionEvent", payload)


# An Updated event's rows and its session's changed fields, with the batch.
UPDATED = [
    flushed("transactions_transactionevent", FRAMES),
    ("UPDATE transactions_transaction", FRAMES),  # one executemany
    flushed("transactions_metervalue", FRAMES),
    LOG,
]


def test_an_updated_transaction_event_costs_no_statement_of_its_own(django_assert_num_queries):
    """The connection remembers its running sessions (OpenTransactionCache): no read."""
    chargers = connect(V201, [f"COUNT-TE-{n}" for n in range(FRAMES)])
    run_frames([(charger, event(n, "Started", 0)) for n, charger in enumerate(chargers)])
    for seq_no in (1, 2):
        with django_assert_num_queries(2):  # BEGIN, COMMIT
            counted = run_frames(
                [(charger, event(n, "Updated", seq_no)) for n, charger in enumerate(chargers)]
            )
        orm, kit = counted.kinds()
        assert orm == ["BEGIN", "COMMIT"]
        assert kit == UPDATED
        assert [reply[2] for reply in counted.replies] == [{}] * FRAMES


def test_an_updated_event_on_a_new_connection_reads_its_session_once(
    django_assert_num_queries,
):
    """After a reconnect the connection knows no session: one read (and lock) per event."""
    chargers = connect(V201, [f"COUNT-RE-{n}" for n in range(FRAMES)])
    run_frames([(charger, event(n, "Started", 0)) for n, charger in enumerate(chargers)])
    reconnected = [ChargerConnection(charger.station, V201, 65536) for charger in chargers]
    for charger in reconnected:
        charger.open()
    with django_assert_num_queries(2):  # BEGIN, COMMIT
        counted = run_frames(
            [(charger, event(n, "Updated", 1)) for n, charger in enumerate(reconnected)]
        )
    orm, kit = counted.kinds()
    assert orm == ["BEGIN", "COMMIT"]
    # The session with its sequence-number check and connector: one SELECT ... FOR UPDATE.
    assert kit == [("SELECT transactions_transaction", 1)] * FRAMES + UPDATED


def test_an_event_that_repeats_its_seq_no_reads_its_session_and_is_reported_once(
    django_assert_num_queries,
):
    """A station that sends seqNo 0 on every event (a firmware bug): each event reads its
    session, as an out-of-order one does, and is applied; the first is reported."""
    chargers = connect(V201, [f"COUNT-RS-{n}" for n in range(FRAMES)])
    run_frames([(charger, event(n, "Started", 0)) for n, charger in enumerate(chargers)])
    read = [("SELECT transactions_transaction", 1)] * FRAMES
    for second, reported in ((1, FRAMES), (2, 0)):
        with django_assert_num_queries(2 + reported):  # BEGIN, the reports, COMMIT
            counted = run_frames(
                [(charger, event(n, "Updated", 0, second)) for n, charger in enumerate(chargers)]
            )
        orm, kit = counted.kinds()
        assert orm == ["BEGIN", *["INSERT security_securityevent"] * reported, "COMMIT"]
        # A job's savepoint comes with its first write at once: here the report's INSERT.
        saved = [statement for statement in kit if "SAVEPOINT" in statement[0]]
        assert saved == (savepoints(FRAMES) if reported else [])
        assert [statement for statement in kit if statement not in saved] == read + UPDATED
        assert [reply[2] for reply in counted.replies] == [{}] * FRAMES
