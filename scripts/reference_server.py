"""The reference CSMS for the benchmark: written the typical way, on the `ocpp` library.

Its `ChargePoint` with default settings (schema validation on) over `websockets`, answering
the messages the benchmark sends, storing nothing. Run: python scripts/reference_server.py
--port 9000. It prints "ready" when it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import resource

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call_result as v16_result
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result as v201_result


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class V16(V16ChargePoint):
    @on("BootNotification")
    def on_boot(self, **_: object) -> v16_result.BootNotification:
        return v16_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: object) -> v16_result.Heartbeat:
        return v16_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **_: object) -> v16_result.StatusNotification:
        return v16_result.StatusNotification()

    @on("StartTransaction")
    def on_start(self, **_: object) -> v16_result.StartTransaction:
        return v16_result.StartTransaction(transaction_id=1, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **_: object) -> v16_result.MeterValues:
        return v16_result.MeterValues()


class V201(V201ChargePoint):
    @on("BootNotification")
    def on_boot(self, **_: object) -> v201_result.BootNotification:
        return v201_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: object) -> v201_result.Heartbeat:
        return v201_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **_: object) -> v201_result.StatusNotification:
        return v201_result.StatusNotification()

    @on("TransactionEvent")
    def on_transaction_event(self, **_: object) -> v201_result.TransactionEvent:
        return v201_result.TransactionEvent()


async def serve(connection: websockets.ServerConnection) -> None:
    charger_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
    cls = V201 if connection.subprotocol == "ocpp2.0.1" else V16
    try:
        await cls(charger_id, connection).start()
    except websockets.ConnectionClosed:
        pass


async def main(port: int) -> None:
    async with websockets.serve(
        serve,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],
        backlog=4096,
        ping_interval=None,
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.port))
