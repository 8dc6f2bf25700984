"""`workerctl admin`: bad flags are one-line usage errors (exit 2), Redis down exits 3, TLS serves HTTPS."""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyworker.adapters.web import AdminWebConfig
from pyworker.entrypoints.admin import open_admin_data
from pyworker.entrypoints.admin_server import AdminServer, Listen
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.container import build_container
from tests.support.certs import Certs, make_certs

URL = "redis://127.0.0.1:6379/0"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["admin", *argv])
    err = capsys.readouterr().err
    return code, err


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen", "nowhere"], "--listen must be host:port, got 'nowhere'"),
        (["--listen", "127.0.0.1:99999"], "--listen must be host:port"),
        (["--listen", "192.0.2.10:8080"], "is not a loopback address: serve TLS"),
        (["--refresh", "0s"], "--refresh must be positive"),
        (["--schedules", "tests.support.admin_app:schedules"], "--schedules needs --app"),
        (["--app", "tests.support.nowhere:registry"], "cannot import 'tests.support.nowhere'"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setenv("PYWORKER_ADMIN_PASSWORD", "pw")
    code, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_password_or_a_token_is_required(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYWORKER_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("PYWORKER_ADMIN_TOKEN", raising=False)
    code, err = run(capsys, "--password", "  ")
    assert (code, err.strip()) == (
        2, "workerctl: set --password or --token (or $PYWORKER_ADMIN_PASSWORD / $PYWORKER_ADMIN_TOKEN)"
    )  # fmt: skip


def test_tls_files_go_together_and_must_load(
    capsys: pytest.CaptureFixture[str], certs: Certs, tmp_path: Path
) -> None:
    code, err = run(capsys, "--password", "pw", "--tls-cert", str(certs.server.cert))
    assert (code, err.strip()) == (2, "workerctl: --tls-cert and --tls-key go together")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    code, err = run(capsys, "--password", "pw", "--tls-cert", str(certs.server.cert), "--tls-key", str(garbage))
    assert code == 2
    assert err.startswith("workerctl: cannot load --tls-cert/--tls-key:")
    assert len(err.strip().splitlines()) == 1
    code, err = run(capsys, "--password", "pw", "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(garbage))
    assert code == 2
    assert "does not exist" in err


def test_redis_down_is_exit_3_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "--password", "pw", "--listen", "127.0.0.1:0", "--redis-url", "redis://127.0.0.1:1/0")
    assert code == 3
    assert err.startswith("workerctl: durable backend unavailable")
    assert len(err.strip().splitlines()) == 1


@pytest.fixture
def https_admin(redis_prefix: str, certs: Certs) -> Iterator[str]:
    """The admin page over TLS on 127.0.0.1:0 in a thread; yields its URL."""
    started = threading.Event()
    urls: list[str] = []
    servers: list[AdminServer] = []
    config = AdminWebConfig(password="pw", secure_cookies=True)
    where = Listen("127.0.0.1", 0, str(certs.server.cert), str(certs.server.key))

    async def go() -> None:
        async with open_admin_data(build_container(), URL, redis_prefix) as data:
            servers.append(AdminServer(data, config, where))

            def ready(url: str) -> None:
                urls.append(url)
                started.set()

            await servers[0].run(ready)

    thread = threading.Thread(target=asyncio.run, args=(go(),), daemon=True)
    thread.start()
    assert started.wait(10), "the admin server did not start"
    try:
        yield urls[0]
    finally:
        servers[0].stop()
        thread.join(10)
        assert not thread.is_alive()


@pytest.mark.redis
def test_tls_serves_https_and_marks_the_session_cookie_secure(https_admin: str, certs: Certs) -> None:
    assert https_admin.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(certs.ca))
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(jar)
    )
    with opener.open(f"{https_admin}/login", timeout=5) as response:
        page = response.read().decode()
        cookie = response.headers["set-cookie"]
    assert "Sign in" in page
    assert "secure" in cookie.lower()
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "default-src 'none'" in response.headers["content-security-policy"]
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    body = urllib.parse.urlencode({"csrf": token, "password": "pw", "next": "/"}).encode()
    with opener.open(f"{https_admin}/login", data=body, timeout=5) as response:
        assert response.url == f"{https_admin}/"
        assert "Overview" in response.read().decode()
