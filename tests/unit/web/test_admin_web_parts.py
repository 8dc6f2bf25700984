"""The admin page's pure parts: the payload preview, the sign-in compare, the redirect target, the config,
the audit's request context."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from pyworker.adapters.web.config import AdminWebConfig
from pyworker.adapters.web.preview import HEX_LIMIT, TEXT_LIMIT, preview
from pyworker.adapters.web.security import local_path, matched_secret, request_context, secret_matches
from pyworker.application.admin import RequestContext
from pyworker.domain import ConfigurationError


def test_a_text_payload_is_shown_as_text_cut_short() -> None:
    shown = preview(("é" * (TEXT_LIMIT + 5)).encode())
    assert (shown.kind, shown.truncated, len(shown.text)) == ("text", True, TEXT_LIMIT)
    assert shown.size == 2 * (TEXT_LIMIT + 5)
    assert preview(b'{"to": "<b>"}').text == '{"to": "<b>"}'  # escaped by the template, not here


def test_a_binary_payload_is_a_hex_dump_of_its_first_bytes() -> None:
    shown = preview(b"\x00\x01AB" + bytes(range(256)) * 2)
    assert (shown.kind, shown.truncated, shown.size) == ("hex", True, 516)
    first = shown.text.splitlines()[0]
    assert first.startswith("00000000  00 01 41 42 00 01 02")
    assert first.endswith("..AB............")
    assert len(shown.text.splitlines()) == HEX_LIMIT // 16
    assert preview(b"\x1b[31mred").kind == "hex"  # a terminal escape is not printable text
    assert preview(b"").kind == "empty"


def test_the_password_and_the_token_both_sign_in() -> None:
    config = AdminWebConfig(password="pw", token="tk")
    assert secret_matches(config, "pw")
    assert secret_matches(config, "tk")
    assert not secret_matches(config, "")
    assert not secret_matches(config, "pwx")
    assert not secret_matches(AdminWebConfig(token="tk"), "")  # an unset password matches nothing


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/tasks/dead?cursor=100", "/tasks/dead?cursor=100"), ("//evil.example/", "/"), ("https://evil.example/", "/"),
     ("/\\evil", "/"), ("", "/"), (None, "/")],
)  # fmt: skip
def test_sign_in_returns_only_to_a_path_on_this_site(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


def test_the_config_needs_a_secret_and_sane_numbers() -> None:
    with pytest.raises(ConfigurationError, match="needs a password or a token"):
        AdminWebConfig()
    with pytest.raises(ConfigurationError, match="events_interval must be positive"):
        AdminWebConfig(password="pw", events_interval=0)
    with pytest.raises(ConfigurationError, match="page_size must be at most 1000"):
        AdminWebConfig(password="pw", page_size=1001)
    assert "pw" not in repr(AdminWebConfig(password="pw"))


def _request(headers: dict[str, str], session: dict[str, str]) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(admin_config=AdminWebConfig(password="pw", token="tk")))
    scope = {
        "type": "http", "method": "POST", "path": "/pause", "app": app, "session": session,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    return Request(scope)


def test_the_request_context_names_the_actor_and_keeps_or_makes_a_request_id() -> None:
    signed = _request({"X-Request-Id": "req-1"}, {"actor": "web:token"})
    assert request_context(signed, "yes") == RequestContext("web:token", "req-1", "yes")
    made = request_context(_request({"X-Request-Id": "x" * 129}, {}))
    assert made.actor == "web:password"
    assert len(made.request_id) == 32  # too long: a new one
    assert request_context(_request({"Authorization": "Bearer tk"}, {})).actor == "web:bearer"


def test_the_matched_secret_says_which_one() -> None:
    config = AdminWebConfig(password="pw", token="tk")
    assert [matched_secret(config, given) for given in ("pw", "tk", "", "nope")] == ["password", "token", "", ""]
