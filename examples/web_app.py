"""Embedding the Registry in a small web back end (standard-library WSGI, no framework).

    python examples/web_app.py --self-test        # start, call every endpoint, stop
    python examples/web_app.py --port 8080        # serve on 127.0.0.1:8080 until Ctrl-C

The host application owns the SQLAlchemy engine (its connection pool) and hands it to the
Registry; every request that writes names the acting user (here from a header, in a real
system from the login session), and each write is one transaction with its audit event.

    GET  /tasks                     the plan's tasks
    POST /tasks/<code>/draw         draw a task (header X-Actor); 409 if already drawn
    GET  /tasks/<code>/bundle       the draw bundle (JSON), for auditors
    GET  /audit/verify              re-check the audit chain
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from sqlalchemy import create_engine

from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import DrawRefused, Registry
from shuangsuiji.store import StoreError
from shuangsuiji.synth import make_city

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_app(registry: Registry) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def reply(start: StartResponse, status: str, body: Any) -> list[bytes]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        start(status, [("Content-Type", "application/json; charset=utf-8")])
        return [data]

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"].strip("/").split("/")
        actor = environ.get("HTTP_X_ACTOR", "").encode("latin-1").decode("utf-8")
        try:
            if method == "GET" and path == ["tasks"]:
                tasks = registry.store.tasks()
                return reply(start, "200 OK", [{"code": t.code, "name": t.name} for t in tasks])
            if method == "POST" and len(path) == 3 and path[0] == "tasks" and path[2] == "draw":
                if not actor:
                    return reply(start, "401 Unauthorized", {"error": "send X-Actor"})
                result = registry.draw(path[1], actor=actor)
                return reply(
                    start,
                    "201 Created",
                    {"attempt": result.attempt, "selected": len(result.draw.selected)},
                )
            if method == "GET" and len(path) == 3 and path[2] == "bundle":
                return reply(start, "200 OK", registry.bundle(path[1]))
            if method == "GET" and path == ["audit", "verify"]:
                problems = registry.store.verify_log()
                return reply(
                    start, "200 OK", {"ok": not problems, "problems": [str(p) for p in problems]}
                )
            return reply(start, "404 Not Found", {"error": "no such endpoint"})
        except DrawRefused as exc:
            return reply(start, "409 Conflict", {"error": str(exc)})
        except (StoreError, ValueError) as exc:
            return reply(start, "400 Bad Request", {"error": str(exc)})

    return app


def build_registry(folder: Path) -> Registry:
    engine = create_engine(f"sqlite:///{folder / 'web.db'}")  # the host application's engine
    registry = Registry.open(engine=engine)
    registry.setup_city(make_city(2_000, seed=5), actor="管理员")
    registry.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor="管理员")
    registry.store.put_task(
        Task(
            "T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30)
        ),
        actor="管理员",
    )
    return registry


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def call(base: str, method: str, path: str, actor: str = "") -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path, method=method, data=b"" if method == "POST" else None
    )
    if actor:
        request.add_header("X-Actor", actor.encode("utf-8").decode("latin-1"))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def self_test() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ssj-web-"))
    server = make_server(
        "127.0.0.1", 0, make_app(build_registry(folder)), handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        checks = [
            call(base, "GET", "/tasks"),
            call(base, "POST", "/tasks/T1/draw"),
            call(base, "POST", "/tasks/T1/draw", actor="抽取人-王芳"),
            call(base, "POST", "/tasks/T1/draw", actor="抽取人-王芳"),
            call(base, "GET", "/tasks/T1/bundle"),
            call(base, "GET", "/audit/verify"),
        ]
    finally:
        server.shutdown()
    for (status, body), expected in zip(checks, (200, 401, 201, 409, 200, 200), strict=True):
        summary = {k: body[k] for k in list(body)[:3]} if isinstance(body, dict) else body[:2]
        print(f"{status} (expected {expected}): {json.dumps(summary, ensure_ascii=False)[:110]}")
        if status != expected:
            raise SystemExit(1)
    if not checks[-1][1]["ok"]:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return
    folder = Path(tempfile.mkdtemp(prefix="ssj-web-"))
    with make_server("127.0.0.1", args.port, make_app(build_registry(folder))) as server:
        print(f"serving on http://127.0.0.1:{args.port}/tasks (Ctrl-C to stop)")
        server.serve_forever()


if __name__ == "__main__":
    main()
