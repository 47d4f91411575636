"""``shuangsuiji serve`` under load it should refuse and files that change under it: a request
body over the upload limit is refused with 413 before anything is stored (whether it declares
its length or not); the keys file is read again when it changes, and a malformed new file
locks no one out."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from server_helpers import CITY, PEOPLE, registry_at, serving
from shuangsuiji.cli import main
from shuangsuiji.io import write_entities_csv
from shuangsuiji.registry import Registry
from shuangsuiji.server.auth import hash_key

LIMIT = 20_000  # bytes: the 600-entity CSV is larger, one JSON row is not


def _state(reg: Registry) -> tuple[dict[str, int], int]:
    return reg.store.counts(), len(reg.store.audit_events())


def _multipart(path: Path) -> tuple[bytes, str]:
    """A multipart body with the file in the field ``file``, and its content type."""
    boundary = "ssj-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def limited(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry, Path]]:
    reg, _ = registry_at(db_url)
    csv = tmp_path / "entities.csv"
    write_entities_csv(CITY.entities, csv)
    assert csv.stat().st_size > LIMIT
    ring = tmp_path / "keys.toml"
    ring.write_text(_keys_toml({"admin": PEOPLE["admin"]}), encoding="utf-8")
    with serving(reg, ring, max_upload_bytes=LIMIT) as base:
        yield base, reg, csv


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {PEOPLE['admin'][2]}", "X-Request-ID": "req-big-1"}


def _refused(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] == "too_large" and body["request_id"] == "req-big-1"
    assert f"({LIMIT} bytes)" in body["detail"] and "--max-upload-mb" in body["detail"]


def test_an_upload_over_the_limit_is_refused_and_nothing_is_stored(
    limited: tuple[str, Registry, Path],
) -> None:
    base, reg, csv = limited
    before = _state(reg)
    body, kind = _multipart(csv)
    # The length is declared: refused before the body is read.
    r = httpx.post(
        base + "/pools/entities/csv",
        content=body,
        headers=_admin() | {"Content-Type": kind},
        timeout=60,
    )
    _refused(r)
    # Sent in chunks without a length: counted as it arrives, refused when it crosses the limit.
    chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
    r = httpx.post(
        base + "/pools/entities/csv",
        content=chunks,
        headers=_admin() | {"Content-Type": kind},
        timeout=60,
    )
    assert "content-length" not in r.request.headers
    _refused(r)
    # A JSON body over the limit too.
    rows = [{"id": f"x{n}", "name": "某" * 50} for n in range(400)]
    r = httpx.post(base + "/pools/entities", json={"rows": rows}, headers=_admin(), timeout=60)
    _refused(r)
    assert _state(reg) == before
    # Under the limit the same service stores as before.
    small, kind = _multipart(_head_of(csv, 20))
    r = httpx.post(
        base + "/pools/entities/csv", content=small, headers=_admin() | {"Content-Type": kind}
    )
    assert r.status_code == 200, r.text
    assert _state(reg)[0]["entities"] == 20


def _head_of(csv: Path, n: int) -> Path:
    out = csv.with_name("head.csv")
    out.write_text("".join(csv.read_text(encoding="utf-8").splitlines(True)[: n + 1]), "utf-8")
    return out


def test_serve_takes_the_limit_in_megabytes() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--max-upload-mb" in result.output
    result = CliRunner().invoke(main, ["serve", "--max-upload-mb", "0", "--keys", __file__])
    assert result.exit_code != 0 and "--max-upload-mb" in result.output


# -- the keys file, read again when it changes ------------------------------------------------


def _keys_toml(people: dict[str, tuple[str, str, str]]) -> str:
    return "".join(
        f'[[person]]\nid = "{pid}"\nname = "{name}"\nroles = ["{role}"]\n'
        f'key_sha256 = "{hash_key(key)}"\n'
        for role, (pid, name, key) in people.items()
    )


def _rewrite(path: Path, text: str, tick: int) -> None:
    """Write ``text`` and give the file a modification time of its own (``tick`` seconds on),
    so that the change is seen on any file system, however coarse its clock."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_800_000_000 + tick
    os.utime(path, (stamp, stamp))


def _status(base: str, role: str) -> int:
    key = PEOPLE[role][2]
    return httpx.get(base + "/pools", headers={"Authorization": f"Bearer {key}"}).status_code


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


def _keys_health(base: str) -> dict[str, Any]:
    health = httpx.get(base + "/health").json()
    assert health["status"] == "ok"
    keys: dict[str, Any] = health["keys"]
    return keys


def test_a_changed_keys_file_takes_effect_and_a_malformed_one_keeps_the_keys_in_force(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shuangsuiji.server")
    reg, _ = registry_at(db_url)
    path = tmp_path / "keys.toml"
    _rewrite(path, _keys_toml({"auditor": PEOPLE["auditor"]}), 0)
    with serving(reg, path) as base:
        assert (_status(base, "auditor"), _status(base, "admin")) == (200, 401)
        assert _keys_health(base) | {"sha256": ""} == {
            "source": "file",
            "people": 1,
            "sha256": "",
            "status": "ok",
        }
        # The auditor leaves, the admin arrives: no restart.
        good = _keys_toml({"admin": PEOPLE["admin"]})
        _rewrite(path, good, 1)
        assert (_status(base, "auditor"), _status(base, "admin")) == (401, 200)
        assert any("reloaded: 1 people" in r.getMessage() for r in caplog.records)
        # A half-written file: refused, the admin still gets in, health and log say why.
        _rewrite(path, good + '[[person]]\nid = "p-0x"\nname = ', 2)
        assert (_status(base, "auditor"), _status(base, "admin")) == (401, 200)
        keys = _keys_health(base)
        assert keys["status"] == "refused" and keys["refused_sha256"] != keys["sha256"]
        assert "server log" in keys["detail"]
        assert [m for m in _errors(caplog) if "not valid TOML" in m] == _errors(caplog)
        assert len(_errors(caplog)) == 1
        # One that breaks the separation of duties is refused the same way.
        both = good.replace('roles = ["admin"]', 'roles = ["drawer", "supervisor"]')
        _rewrite(path, both, 3)
        assert _status(base, "admin") == 200 and _keys_health(base)["status"] == "refused"
        assert "holds both drawer and supervisor" in _errors(caplog)[-1]
        # The file removed: refused too (no one is locked out by a deployment mistake).
        path.unlink()
        assert _status(base, "admin") == 200 and _keys_health(base)["status"] == "refused"
        # Corrected: in force again.
        _rewrite(path, _keys_toml(dict(PEOPLE)), 4)
        assert (_status(base, "auditor"), _status(base, "admin")) == (200, 200)
        assert _keys_health(base)["status"] == "ok" and _keys_health(base)["people"] == 7
