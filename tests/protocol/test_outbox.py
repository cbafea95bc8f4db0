"""Call matching: our CALLs queued in order, each once, one in flight, matched to answers.

No sockets, no database: items are strings, "sending" appends to a list, and the tests play
the charger by handing answers to `match`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from apps.protocol import frames
from apps.protocol.outbox import CONNECTION_CLOSED, Outbox, match

Answer = frames.CallResult | frames.CallError | None


class Station:
    """A connection's side of the outbox: each item is one CALL with message id `m-<item>`."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self.sent: list[str] = []  # message ids of the CALLs sent, in order
        self.answers: dict[str, Answer] = {}  # item → what its call returned
        self.outbox: Outbox[str] = Outbox(self.execute)
        self.send: Callable[[str], Awaitable[None]] = self._send

    async def _send(self, message_id: str) -> None:
        self.sent.append(message_id)

    async def execute(self, item: str) -> None:
        message_id = f"m-{item}"
        self.answers[item] = await self.outbox.call(
            message_id, lambda: self.send(message_id), self.timeout_s
        )


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0)


def result(message_id: str) -> frames.CallResult:
    return frames.CallResult(message_id, {"status": "Accepted"})


async def test_one_call_is_in_flight_and_the_next_waits_for_its_answer() -> None:
    station = Station()
    for item in ("a", "b", "c"):
        station.outbox.put(item)
    await until(lambda: station.sent == ["m-a"])
    await asyncio.sleep(0.01)
    assert station.sent == ["m-a"]  # b waits until a is answered
    assert station.outbox.in_flight == "m-a"
    assert match(station.outbox, result("m-a")) == ""
    await until(lambda: station.sent == ["m-a", "m-b"])
    assert match(station.outbox, result("m-b")) == ""
    await until(lambda: station.sent == ["m-a", "m-b", "m-c"])
    assert match(station.outbox, frames.CallError("m-c", "NotSupported", "no")) == ""
    await until(lambda: not station.outbox.sending)
    assert station.answers == {
        "a": result("m-a"),
        "b": result("m-b"),
        "c": frames.CallError("m-c", "NotSupported", "no"),
    }
    assert station.outbox.in_flight is None


async def test_an_item_queued_or_in_flight_is_not_queued_again() -> None:
    station = Station()
    station.outbox.put("a")
    station.outbox.put("b")
    station.outbox.put("b")
    await until(lambda: station.outbox.in_flight == "m-a")
    station.outbox.put("a")  # in flight
    station.outbox.put("b")  # queued
    match(station.outbox, result("m-a"))
    await until(lambda: station.outbox.in_flight == "m-b")
    match(station.outbox, result("m-b"))
    await until(lambda: not station.outbox.sending)
    assert station.sent == ["m-a", "m-b"]
    station.outbox.put("a")  # finished: it may come again
    await until(lambda: station.outbox.in_flight == "m-a")
    match(station.outbox, result("m-a"))
    await until(lambda: not station.outbox.sending)
    assert station.sent == ["m-a", "m-b", "m-a"]


async def test_the_sender_task_runs_only_while_there_are_items() -> None:
    station = Station()
    assert not station.outbox.sending
    station.outbox.put("a")
    assert station.outbox.sending
    await until(lambda: station.outbox.in_flight == "m-a")
    match(station.outbox, result("m-a"))
    await until(lambda: not station.outbox.sending)
    station.outbox.put("b")
    assert station.outbox.sending
    await until(lambda: station.outbox.in_flight == "m-b")
    match(station.outbox, result("m-b"))
    await until(lambda: not station.outbox.sending)


async def test_an_answer_with_another_id_answers_nothing_and_the_call_still_waits() -> None:
    station = Station()
    station.outbox.put("a")
    await until(lambda: station.outbox.in_flight == "m-a")
    assert match(station.outbox, result("m-x")) == "answer to no CALL of ours: m-x"
    assert station.outbox.in_flight == "m-a"
    assert match(station.outbox, result("m-a")) == ""
    await until(lambda: not station.outbox.sending)
    assert station.answers["a"] == result("m-a")


async def test_a_second_answer_to_the_same_call_answers_nothing() -> None:
    station = Station()
    station.outbox.put("a")
    await until(lambda: station.outbox.in_flight == "m-a")
    assert match(station.outbox, result("m-a")) == ""
    assert match(station.outbox, result("m-a")) == "answer to no CALL of ours: m-a"
    await until(lambda: not station.outbox.sending)
    assert match(station.outbox, result("m-a")) == "answer to no CALL of ours: m-a"


def test_an_answer_without_an_outbox_answers_nothing() -> None:
    assert match(None, result("m-a")) == "answer to no CALL of ours: m-a"
    error = frames.CallError("m-a", "GenericError", "")
    assert match(None, error) == "answer to no CALL of ours: m-a"


async def test_a_callresulterror_is_about_our_answer_and_answers_no_call() -> None:
    station = Station()
    station.outbox.put("a")
    await until(lambda: station.outbox.in_flight == "m-a")
    about_ours = frames.CallError(
        "m-a", "FormatViolation", "bad", message_type=frames.CALLRESULTERROR
    )
    assert match(station.outbox, about_ours) == (
        "CALLRESULTERROR for our answer m-a: FormatViolation bad"
    )
    assert station.outbox.in_flight == "m-a"  # still waiting for the real answer
    assert match(None, about_ours).startswith("CALLRESULTERROR for our answer m-a")
    match(station.outbox, result("m-a"))
    await until(lambda: not station.outbox.sending)
    assert station.answers["a"] == result("m-a")


async def test_a_call_without_an_answer_in_time_returns_none_and_the_next_goes() -> None:
    station = Station(timeout_s=0.05)
    station.outbox.put("a")
    station.outbox.put("b")
    await until(lambda: station.outbox.in_flight == "m-b", within=1)
    assert station.answers == {"a": None}
    # The late answer to a answers nothing; b's own is still taken.
    assert match(station.outbox, result("m-a")) == "answer to no CALL of ours: m-a"
    assert match(station.outbox, result("m-b")) == ""
    await until(lambda: not station.outbox.sending)
    assert station.answers == {"a": None, "b": result("m-b")}


async def test_closing_fails_the_call_in_flight_and_drops_the_queue() -> None:
    station = Station()
    for item in ("a", "b"):
        station.outbox.put(item)
    await until(lambda: station.outbox.in_flight == "m-a")
    station.outbox.close()
    await until(lambda: not station.outbox.sending)
    assert station.answers == {"a": frames.CallError("m-a", "GenericError", CONNECTION_CLOSED)}
    assert station.sent == ["m-a"]  # b stays unsent
    station.outbox.put("c")  # closed: nothing is queued any more
    assert not station.outbox.sending
    assert match(station.outbox, result("m-a")) == "answer to no CALL of ours: m-a"


async def test_a_call_after_closing_is_not_sent() -> None:
    station = Station()
    station.outbox.close()
    answer = await station.outbox.call("m-a", lambda: station.send("m-a"), 5)
    assert answer == frames.CallError("m-a", "GenericError", CONNECTION_CLOSED)
    assert station.sent == []


async def test_a_connection_error_while_sending_is_a_generic_error() -> None:
    station = Station()

    async def broken(message_id: str) -> None:
        raise ConnectionError("socket gone")

    station.send = broken
    station.outbox.put("a")
    await until(lambda: not station.outbox.sending)
    assert station.answers == {"a": frames.CallError("m-a", "GenericError", "socket gone")}
    assert station.outbox.in_flight is None


async def test_any_os_error_while_sending_is_a_generic_error() -> None:
    # uvicorn's ClientDisconnected is an OSError, not a ConnectionError, and has no message.
    class ClientDisconnected(OSError):
        pass

    station = Station()

    async def reset(message_id: str) -> None:
        raise ClientDisconnected()

    station.send = reset
    station.outbox.put("a")
    await until(lambda: not station.outbox.sending)
    assert station.answers == {"a": frames.CallError("m-a", "GenericError", CONNECTION_CLOSED)}
    assert station.outbox.in_flight is None


async def test_an_item_that_fails_is_logged_and_the_next_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    station = Station()
    execute = station.execute

    async def failing_first(item: str) -> None:
        if item == "a":
            raise RuntimeError("database down")
        await execute(item)

    station.outbox = Outbox(failing_first)
    with caplog.at_level(logging.ERROR, logger="apps.protocol.outbox"):
        station.outbox.put("a")
        station.outbox.put("b")
        await until(lambda: station.outbox.in_flight == "m-b")
    assert "command a failed" in caplog.text
    match(station.outbox, result("m-b"))
    await until(lambda: not station.outbox.sending)
    station.outbox.put("a")  # it failed, so it is no longer queued: it may come again
    assert station.outbox.sending
    await until(lambda: not station.outbox.sending)
    assert caplog.text.count("command a failed") == 2


async def test_two_calls_at_once_are_refused() -> None:
    station = Station()
    first = asyncio.ensure_future(station.outbox.call("m-a", lambda: station.send("m-a"), 5))
    await until(lambda: station.outbox.in_flight == "m-a")
    with pytest.raises(RuntimeError, match="one at a time"):
        await station.outbox.call("m-b", lambda: station.send("m-b"), 5)
    assert match(station.outbox, result("m-a")) == ""
    assert await first == result("m-a")
    assert station.sent == ["m-a"]
