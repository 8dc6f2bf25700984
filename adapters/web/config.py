"""AdminWebConfig: the admin page's settings as one frozen value (docs/admin.md)."""

from __future__ import annotations

import secrets
from typing import Any

import attrs

from pyworker.domain import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ConfigurationError

#: A signed-in session lasts this long (seconds) unless the browser signs out first.
SESSION_MAX_AGE = 8 * 3600


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigurationError(reason=f"admin {attribute.name} must be positive, got {value!r}")


@attrs.frozen
class AdminWebConfig:
    """How the admin page signs people in and what it lets them do.

    Attributes:
        password: typed into the sign-in form ("" for none).
        token: accepted by the sign-in form too, and as ``Authorization: Bearer`` for scripts.
        read_only: hide every action and refuse it (403).
        secure_cookies: mark the session cookie ``Secure`` (served over TLS).
        session_secret: the key that signs session cookies (random per process by
            default: a restart signs everyone out).
        events_interval: seconds between two overview updates on the SSE stream.
        page_size: tasks per page of the task browser (at most MAX_PAGE_SIZE).

    Raises:
        ConfigurationError: neither a password nor a token, or a bad number.
    """

    password: str = attrs.field(default="", repr=False)
    token: str = attrs.field(default="", repr=False)
    read_only: bool = False
    secure_cookies: bool = False
    session_secret: str = attrs.field(factory=lambda: secrets.token_urlsafe(32), repr=False)
    events_interval: float = attrs.field(default=2.0, validator=_positive)
    page_size: int = attrs.field(default=DEFAULT_PAGE_SIZE, validator=_positive)
    session_max_age: int = SESSION_MAX_AGE

    def __attrs_post_init__(self) -> None:
        if not self.password and not self.token:
            raise ConfigurationError(reason="the admin page needs a password or a token to sign in with")
        if self.page_size > MAX_PAGE_SIZE:
            raise ConfigurationError(reason=f"admin page_size must be at most {MAX_PAGE_SIZE}, got {self.page_size}")
