"""Dashly's Web API on loopback (pytest-httpserver), answering as its documentation says
(in docs/dashly.md's terms): a repeated tag is a 400 `ConversationTagAlreadyAssigned`, a
refused property leaves the call a 200 listing it in `meta.ignored_operations`, and a reply is
stored, so that `GET /conversations/{id}/parts` shows it as the documented example does:
from the admin it was sent as, in HTML, with `created` and no `random_id`."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

# Every call on a conversation the service makes (for stand-ins of a test's own), and those
# the documented stand-in answers with a plain success.
API_PATH = re.compile(r"^/conversations/\d+/(reply|assign|settyping|close)$")
PLAIN_PATH = re.compile(r"^/conversations/\d+/(assign|settyping|close)$")
REPLY_PATH = re.compile(r"^/conversations/(\d+)/reply$")
PARTS_PATH = re.compile(r"^/conversations/(\d+)/parts$")
TAG_PATH = re.compile(r"^/conversations/(\d+)/tag$")
USER_PATH = re.compile(r"^/users/\d+$")
PROPS_PATH = re.compile(r"^/users/\d+/props$")
EVENTS_PATH = re.compile(r"^/users/\d+/events$")
DASHLY_OK = {"meta": {"status": 200}, "data": {}}
LEAD_NAME = "Anna"
JSON = "application/json"


def form_of(request: Request) -> dict[str, str]:
    """The form fields of a call the stand-in received (the first value of each)."""
    return {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}


def dashly_answer(status: int = 200, error: str = "", **data: Any) -> Response:
    """An answer in Dashly's shape: `meta` with the status (and the error's name), `data`."""
    meta: dict[str, Any] = {"status": status}
    if error:
        meta.update(error=error, error_message="")
    return Response(json.dumps({"meta": meta, "data": data}), status, mimetype=JSON)


class Conversations:
    """The messages Dashly holds: each reply the stand-in accepted, newest first, as
    `GET /conversations/{id}/parts` lists them."""

    def __init__(self) -> None:
        self._parts: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._next_id = 900_000

    def store(self, conversation: str, form: dict[str, str]) -> None:
        """Keep a reply (or note) as Dashly would show it."""
        admin = form.get("from_admin", "default_admin")
        author = (
            {"id": 1, "type": "default_admin", "name": "Bot"}
            if admin == "default_admin"
            else {"id": int(admin), "type": "admin", "name": "Operator"}
        )
        with self._lock:
            self._next_id += 1
            part = {
                "id": self._next_id,
                "conversation": int(conversation),
                "type": "note" if form.get("type") == "note" else "reply_admin",
                "body": f"<p>{form.get('body', '')}</p>",
                "created": int(time.time()),
                "from": author,
                "direction": "a2u",
            }
            self._parts.setdefault(conversation, []).insert(0, part)

    def parts(self, conversation: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._parts.get(conversation, []))

    def reply(self, request: Request) -> Response:
        """POST /conversations/{id}/reply: stored, then answered."""
        self.store(REPLY_PATH.match(request.path).group(1), form_of(request))  # type: ignore[union-attr]
        return dashly_answer()

    def list_parts(self, request: Request) -> Response:
        """GET /conversations/{id}/parts: the latest `count` (default 20) parts."""
        conversation = PARTS_PATH.match(request.path).group(1)  # type: ignore[union-attr]
        count = int(request.args.get("count", "20"))
        body = {"meta": {"status": 200}, "data": self.parts(conversation)[:count]}
        return Response(json.dumps(body), mimetype=JSON)


def documented_api(server: HTTPServer) -> HTTPServer:
    """Register the documented answers on `server`; every lead is called Anna. The stored
    replies are `server.conversations` (a Conversations)."""
    tagged: set[tuple[str, str]] = set()
    lock = threading.Lock()
    conversations = Conversations()

    def tag(request: Request) -> Response:
        conversation = TAG_PATH.match(request.path).group(1)  # type: ignore[union-attr]
        key = (conversation, form_of(request).get("tag", ""))
        with lock:
            again = key in tagged
            tagged.add(key)
        if again:
            return dashly_answer(400, "ConversationTagAlreadyAssigned")
        return dashly_answer()

    def props(request: Request) -> Response:
        operations = json.loads(form_of(request)["operations"])
        refused = [
            {**op, "reason": "Invalid email"}
            for op in operations
            if op["key"] == "$email" and "@" not in str(op["value"])
        ]
        meta: dict[str, Any] = {"status": 200}
        if refused:
            meta["ignored_operations"] = refused
            meta["not_changed_props"] = [op["key"] for op in refused]
        return Response(json.dumps({"meta": meta, "data": {}}), mimetype=JSON)

    server.expect_request(REPLY_PATH, method="POST").respond_with_handler(conversations.reply)
    server.expect_request(PARTS_PATH, method="GET").respond_with_handler(conversations.list_parts)
    server.expect_request(PLAIN_PATH, method="POST").respond_with_json(DASHLY_OK)
    server.expect_request(TAG_PATH, method="POST").respond_with_handler(tag)
    server.expect_request(PROPS_PATH, method="POST").respond_with_handler(props)
    server.expect_request(EVENTS_PATH, method="POST").respond_with_json(DASHLY_OK)
    server.expect_request(USER_PATH, method="GET").respond_with_json(
        {"meta": {"status": 200}, "data": {"id": 85648207, "props": {"$name": LEAD_NAME}}}
    )
    server.conversations = conversations  # type: ignore[attr-defined]
    return server


class StandIn:
    """Dashly's API on loopback for the bad days: its reply call fails (500, storing nothing)
    while `failing` is set and takes `reply_seconds`; it remembers every call it was made,
    with the time and whether it succeeded."""

    def __init__(self, server: HTTPServer, reply_seconds: float = 0.0) -> None:
        self.server = server
        self.failing = threading.Event()
        self.reply_seconds = reply_seconds
        self.calls: list[tuple[str, dict[str, str], float, bool]] = []
        self._lock = threading.Lock()
        server.expect_request(REPLY_PATH, method="POST").respond_with_handler(self._reply)
        server.expect_request(TAG_PATH, method="POST").respond_with_handler(self._ok)
        server.expect_request(PARTS_PATH, method="GET").respond_with_handler(self._parts)
        server.expect_request(USER_PATH, method="GET").respond_with_json(
            {"meta": {"status": 200}, "data": {"props": {"$name": LEAD_NAME}}}
        )

    def _remember(self, request: Request, succeeded: bool) -> None:
        form = form_of(request)
        with self._lock:
            self.calls.append((request.path, form, time.monotonic(), succeeded))

    def _reply(self, request: Request) -> Response:
        time.sleep(self.reply_seconds)
        failing = self.failing.is_set()
        self._remember(request, not failing)
        if failing:
            return Response('{"meta": {"status": 500}}', 500, content_type=JSON)
        return Response(json.dumps(DASHLY_OK), content_type=JSON)

    def _parts(self, request: Request) -> Response:
        """The conversation's messages: the replies that succeeded (a failing call stored
        nothing), as Dashly lists them."""
        path = request.path.removesuffix("/parts") + "/reply"
        conversations = Conversations()
        for call in self.sent():
            if call[0] == path:
                conversations.store(path.split("/")[2], call[1])
        return conversations.list_parts(request)

    def _ok(self, request: Request) -> Response:
        self._remember(request, True)
        return Response(json.dumps(DASHLY_OK), content_type=JSON)

    def sent(self, suffix: str = "/reply") -> list[tuple[str, dict[str, str], float, bool]]:
        with self._lock:
            return [c for c in self.calls if c[0].endswith(suffix) and c[3]]

    def tried(self, suffix: str = "/reply") -> list[tuple[str, dict[str, str], float, bool]]:
        with self._lock:
            return [c for c in self.calls if c[0].endswith(suffix)]
