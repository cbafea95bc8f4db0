"""A command sent from any thread of the process reaches the loop holding the station's socket.

With an in-memory channel layer the layer belongs to the server's event loop; a thread that
is not one of its own (a hardware service) hands commands over through `local.deliver`.
"""

from __future__ import annotations

import asyncio
import threading

from apps.commands import services as command_services
from apps.ocpp import local


class Connection:
    def __init__(self) -> None:
        self.enqueued: list[tuple[int, str]] = []
        self.arrived = threading.Event()

    def enqueue(self, command_id: int) -> None:
        self.enqueued.append((command_id, threading.current_thread().name))
        self.arrived.set()

    async def end(self, code: int, reason: str) -> None:
        pass


def test_a_command_is_handed_to_the_loop_that_holds_the_station(settings):
    settings.OCPP_COMMAND_POLL_INTERVAL = 0  # no database poll in this test
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-loop", daemon=True)
    thread.start()
    connection = Connection()

    async def hold() -> None:
        local.add(7001, connection)

    asyncio.run_coroutine_threadsafe(hold(), loop).result(5)
    try:
        assert local.deliver(7001, 42) is True
        assert connection.arrived.wait(5)
        assert connection.enqueued == [(42, "server-loop")]
        assert local.deliver(7002, 43) is False  # not held by this process
    finally:
        local.discard(7001, connection)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_the_ocpp_app_sets_the_delivery_of_the_command_path():
    assert command_services._local_delivery is local.deliver
