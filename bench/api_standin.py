"""Dashly's Web API stand-in for benchmarks, in a process of its own.

    python -m bench.api_standin PORT DELAY_SECONDS

Answers every call after DELAY_SECONDS; GET /stats tells how many replies arrived and how many
distinct random_ids they carried (a duplicate delivery shows as the difference).

A small asyncio server that reads each request's head and body and answers with bytes made at
start. Dashly's servers cost the service nothing in production, while on this machine whatever
the stand-in spends is taken from the service under test: a thread-per-connection `http.server`
took about 0.5 ms of CPU per call (4% of the machine at the benchmark's rate), this a tenth.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import parse_qs

RANDOM_IDS: list[str] = []
# The replies each conversation holds, as `GET /conversations/{id}/parts` lists them (newest
# first): the service reads them before resending a reply whose call's outcome was unknown.
PARTS: dict[str, list[dict]] = {}


def response(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


DONE = response({"meta": {"status": 200}, "data": {}})
LEAD = response({"meta": {"status": 200}, "data": {"props": {"$name": "Anna"}}})


def stats() -> bytes:
    return response({"replies": len(RANDOM_IDS), "unique": len(set(RANDOM_IDS))})


def answer(method: str, path: str, body: bytes) -> bytes:
    """What the API answers to a call (recording a reply's random_id and text)."""
    conversation = path.split("/")[2] if path.startswith("/conversations/") else ""
    if method == "POST" and path.endswith("/reply"):
        fields = parse_qs(body.decode())
        RANDOM_IDS.append(fields.get("random_id", ["?"])[0])
        if fields.get("type", [""])[0] != "note":
            admin = fields.get("from_admin", ["default_admin"])[0]
            author = {"id": 1, "type": "default_admin"}
            if admin.isdigit():
                author = {"id": int(admin), "type": "admin"}
            part = {
                "id": len(RANDOM_IDS),
                "type": "reply_admin",
                "from": author,
                "created": int(time.time()),
            }
            part["body"] = fields.get("body", [""])[0]
            PARTS.setdefault(conversation, []).insert(0, part)
    if method == "GET" and path.endswith("/parts"):
        return response({"meta": {"status": 200}, "data": PARTS.get(conversation, [])[:50]})
    return LEAD if method == "GET" else DONE


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """One keep-alive connection: requests one after another until the client closes it."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            path = target.split("?", 1)[0]
            if method == "GET" and path == "/stats":  # the benchmark's question, answered at once
                writer.write(stats())
                continue
            if delay:
                await asyncio.sleep(delay)
            writer.write(answer(method, path, body))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection
    finally:
        writer.close()


async def main(port: int, delay: float) -> None:
    # asyncio sets TCP_NODELAY on its sockets: no answer waits ~40 ms for a delayed ACK.
    server = await asyncio.start_server(
        lambda reader, writer: serve(reader, writer, delay), "127.0.0.1", port, backlog=256
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
