"""Our CALLs to one charger (CSMS → charger): queued in order, one in flight, matched to answers.

OCPP-J allows one CALL in flight per direction: the next waits until the charger has
answered the previous one or its timeout has passed. An `Outbox` keeps a connection's
queue (each item queued once), sends one item at a time from a task that runs only while
there are items, waits for the answer to the CALL in flight by its message id, and fails
that CALL when the connection closes. `match` hands a charger's CALLRESULT / CALLERROR to
it, or says why the frame answers no CALL of ours.

What sending an item means (claim a command, build its CALL, store the answer) and how a
frame goes out are passed in: asyncio's futures and one task are all the I/O here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from apps.protocol import frames

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

CONNECTION_CLOSED = "connection closed before the answer"


class Outbox(Generic[K]):
    """One connection's queue of items to send as CALLs, and the CALL in flight.

    `execute(item)` sends one item, calling `call()` for its CALL; items are executed one at
    a time, in the order they were put, and an item queued or being executed is not queued
    again. Made with a connection's first item: most connections never get one.
    """

    __slots__ = ("_answer", "_closed", "_execute", "_in_flight", "_queue", "_queued", "_sender")

    def __init__(self, execute: Callable[[K], Awaitable[None]]) -> None:
        self._execute = execute
        self._queue: collections.deque[K] = collections.deque()
        self._queued: set[K] = set()  # waiting in the queue, or being executed
        self._sender: asyncio.Task[None] | None = None
        self._in_flight: str | None = None  # the message id of our CALL awaiting its answer
        self._answer: asyncio.Future[frames.CallResult | frames.CallError] | None = None
        self._closed = False

    @property
    def sending(self) -> bool:
        """Whether the task that sends the queued items is running."""
        return self._sender is not None and not self._sender.done()

    @property
    def in_flight(self) -> str | None:
        """The message id of our CALL awaiting its answer, if one is."""
        return self._in_flight

    def put(self, item: K) -> None:
        """Queue `item`, unless it is queued or being sent already or the outbox is closed.

        The task that sends the items is started here when none runs: an idle connection
        has none (ten thousand idle tasks cost memory, and a reconnect storm's time).
        """
        if self._closed or item in self._queued:
            return
        self._queued.add(item)
        self._queue.append(item)
        if not self.sending:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        while self._queue and not self._closed:
            item = self._queue.popleft()
            try:
                await self._execute(item)
            except Exception:
                logger.exception("command %s failed", item)
            finally:
                self._queued.discard(item)

    async def call(
        self, message_id: str, send: Callable[[], Awaitable[None]], timeout_s: float
    ) -> frames.CallResult | frames.CallError | None:
        """Send our CALL (`send()`) and wait for the answer with its message id.

        Return the answer; None when none came within `timeout_s` seconds; a GenericError
        CALLERROR when the connection closed first or sending raised OSError (uvicorn's
        ClientDisconnected is one, ConnectionError another).
        """
        if self._in_flight is not None:
            raise RuntimeError(f"CALL {self._in_flight} is in flight: one at a time")
        if self._closed:
            return frames.CallError(message_id, "GenericError", CONNECTION_CLOSED)
        answer = self._answer = asyncio.get_running_loop().create_future()
        self._in_flight = message_id
        try:
            await send()
            return await asyncio.wait_for(answer, timeout_s)
        except TimeoutError:
            return None
        except OSError as exc:
            return frames.CallError(message_id, "GenericError", str(exc) or CONNECTION_CLOSED)
        finally:
            self._in_flight = self._answer = None

    def answer(self, frame: frames.CallResult | frames.CallError) -> bool:
        """Hand `frame` to the CALL in flight if it answers it; False if it answers none."""
        answer = self._answer
        if answer is None or frame.message_id != self._in_flight or answer.done():
            return False
        answer.set_result(frame)
        return True

    def close(self) -> None:
        """The connection closed: drop the queue and fail the CALL in flight.

        The item being executed still finishes (its outcome is stored); the others are not
        sent. Nothing can be put any more.
        """
        self._closed = True
        self._queue.clear()
        self._queued.clear()
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(ConnectionError(CONNECTION_CLOSED))


def match(outbox: Outbox | None, frame: frames.CallResult | frames.CallError) -> str:
    """Hand a charger's CALLRESULT / CALLERROR to the CALL of ours it answers.

    Return "" when it answered one; otherwise, for the log, why not: it answers no CALL of
    ours (an unknown id, or one answered or timed out already), or it is a CALLRESULTERROR,
    about a CALLRESULT we sent (nothing to undo).
    """
    if isinstance(frame, frames.CallError) and frame.message_type == frames.CALLRESULTERROR:
        return (
            f"CALLRESULTERROR for our answer {frame.message_id}: "
            f"{frame.error_code} {frame.description}"
        )
    if outbox is None or not outbox.answer(frame):
        return f"answer to no CALL of ours: {frame.message_id}"
    return ""
