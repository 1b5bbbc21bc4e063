"""Who is acting, through which channel, under which request id: set at the edges, read below.

The edges (the request middleware, the IVR, management commands through manage.py, Celery tasks)
open an `audit_context`; the audit log (accounts.audit_log) and the log records
(accounts.log_format) read it. A contextvar, so threads and tasks never see each other's context.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

# A request id we accept from a client or a proxy: short, printable, no spaces or quotes, so it
# can never smuggle text (or a customer's data) into a log line.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class AuditChannel:
    """The channels an audit entry names. The customer ones are `accounts.models.Channel`'s
    values (one vocabulary with StatusChange); `command` and `system` are the machine ones."""

    WEB = "web"
    IVR = "ivr"
    AGENT = "phone"  # the call-centre agent screen (Channel.PHONE)
    REPLY_CARD = "reply_card"
    API = "api"
    ADMIN = "admin"
    IMPORT = "import"
    COMMAND = "command"
    TASK = "system"  # a Celery task or beat run (Channel.SYSTEM)


@dataclass
class AuditContext:
    channel: str = ""
    # A user object (or a callable returning one: the request's lazy user), or None.
    user: Any = None
    actor_name: str = ""
    request_id: str = ""
    remote_addr: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def actor(self):
        user = self.user() if callable(self.user) else self.user
        if user is not None and getattr(user, "is_authenticated", False):
            return user
        return None


_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_accept(value: str | None) -> str:
    """The incoming X-Request-ID when well-formed, else a fresh one."""
    if value and REQUEST_ID_RE.match(value):
        return value
    return request_id_new()


def current() -> AuditContext | None:
    return _context.get()


def current_request_id() -> str:
    ctx = _context.get()
    return ctx.request_id if ctx else ""


@contextlib.contextmanager
def audit_context(**values: Any) -> Iterator[AuditContext]:
    """Open (or narrow) the context: values given replace those of an enclosing context, so a
    view can say `audit_context(channel="phone")` inside the request's context."""
    outer = _context.get()
    ctx = replace(outer, **values) if outer else AuditContext(**values)
    if not ctx.request_id:
        ctx.request_id = request_id_new()
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def audit_channel_set(channel: str) -> None:
    """Name the channel of the request in progress (a view that knows better than its path)."""
    ctx = _context.get()
    if ctx is not None:
        ctx.channel = channel
