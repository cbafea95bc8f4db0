"""A small ASGI application for tests/config/test_daphne_server.py, served by a real daphne.

The path picks what it does with a websocket handshake: /deny-in-parts answers 418 with a
header and a body sent in two parts, /close closes before accepting, /accept accepts and
echoes one text message, /extensions accepts and sends the scope's extensions.
"""

from __future__ import annotations

import json


async def application(scope, receive, send):
    if scope["type"] == "http":  # the test polls until daphne listens
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/deny-in-parts":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 418,
                "headers": [(b"x-reason", b"teapot")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"short ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"and stout"})
    elif path == "/close":
        await send({"type": "websocket.close"})
    elif path == "/extensions":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(scope.get("extensions"))})
    else:
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"]})
    while (await receive())["type"] != "websocket.disconnect":
        pass
