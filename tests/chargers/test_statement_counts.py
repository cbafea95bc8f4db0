"""What a Heartbeat and a StatusNotification (OCPP 1.6) cost in statements.

Run as the group-commit job runs them, a batch of FRAMES frames from as many chargers;
what is counted, and what is not, is said in tests/statement_counting.py. A change of these
numbers is a change of the per-message cost: measure it (scripts/frame_cost.py).
"""

from __future__ import annotations

import pytest

from apps.protocol.versions import V16
from tests.statement_counting import call, connect, flushed, run_frames, savepoints

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = 3
LOG = flushed("ocpp_messagelog", 2 * FRAMES)  # each frame and its answer, with the batch


def test_a_heartbeat_costs_one_update_and_its_jobs_savepoint(django_assert_num_queries):
    chargers = connect(V16, [f"COUNT-HB-{n}" for n in range(FRAMES)])
    with django_assert_num_queries(FRAMES + 2):  # BEGIN, an UPDATE a frame, COMMIT
        counted = run_frames([(charger, call("Heartbeat", {})) for charger in chargers])
    orm, kit = counted.kinds()
    assert orm == ["BEGIN", *["UPDATE chargers_chargingstation"] * FRAMES, "COMMIT"]
    assert kit == [*savepoints(FRAMES), LOG]
    assert all("currentTime" in reply[2] for reply in counted.replies)


def status(second: int) -> str:
    payload = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": f"2026-01-01T00:00:{second:02d}Z",
    }
    return call("StatusNotification", payload)


def test_a_status_notification_of_a_known_connector_costs_five_statements_and_a_savepoint(
    django_assert_num_queries,
):
    chargers = connect(V16, [f"COUNT-SN-{n}" for n in range(FRAMES)])
    run_frames([(charger, status(1)) for charger in chargers])  # the connectors are created
    per_frame = [
        "SAVEPOINT",  # connector_status_update's atomic block
        "SELECT chargers_connector",  # get_or_create, FOR UPDATE
        "INSERT chargers_statusevent",
        "UPDATE chargers_connector",
        "RELEASE SAVEPOINT",
    ]
    with django_assert_num_queries(5 * FRAMES + 2):
        counted = run_frames([(charger, status(2)) for charger in chargers])
    orm, kit = counted.kinds()
    assert orm == ["BEGIN", *per_frame * FRAMES, "COMMIT"]
    assert kit == [*savepoints(FRAMES), LOG]
    assert [reply[2] for reply in counted.replies] == [{}] * FRAMES
