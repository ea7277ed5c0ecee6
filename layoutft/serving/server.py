"""How ``layoutft serve`` runs uvicorn: connection deadlines, and a connection cap that idle
or slow clients cannot fill.

uvicorn times out a connection only between requests (its keep-alive timeout), and its
``limit_concurrency`` counts open connections: 45 clients that connect and send nothing,
or send a request head one byte at a time, make it answer 503 to everyone for as long as
they stay. The protocol here (uvicorn's h11 protocol with three additions) fixes that
without a reverse proxy:

- a connection has ``header_timeout`` to send a complete request head, from when it opens
  and again after each response; then it is closed;
- a request has ``body_timeout`` from its head to the end of its body; then the
  connection is closed (the request ends as if the client went away);
- at most ``max_connections`` connections are open: a new one past the cap closes the
  oldest connection that is waiting for a request head (idle or slow), so they cannot
  crowd out real requests; only when every connection carries a request is the new one
  refused.

Requests are limited by the application instead (:func:`layoutft.serving.app.create_app`:
the model queue and ``max_requests``, neither of which counts ``/health``), so uvicorn's
own ``limit_concurrency`` is off.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layoutft.errors import OptionError

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp


@dataclass(frozen=True)
class ConnectionLimits:
    """Deadlines and the cap on connections (see the module docstring).

    Attributes:
        header_timeout: seconds a connection has to send a complete request head.
        body_timeout: seconds a request has from its head to the end of its body.
        keep_alive: seconds an idle keep-alive connection stays open (uvicorn's).
        max_connections: open connections at most; past it the oldest one waiting for a
            request head is closed.
    """

    header_timeout: float = 10.0
    body_timeout: float = 300.0
    keep_alive: int = 5
    max_connections: int = 256

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "keep_alive"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):
                raise OptionError("{" + name + "} must be > 0 seconds, got {got}", got=value)
        if self.max_connections < 2:
            raise OptionError("{max_connections} must be >= 2, got {got}", got=self.max_connections)


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's h11 HTTP protocol with ``limits``' deadlines and connection cap."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        # "head": waiting for a request head (idle or slow: may be evicted),
        # "body": receiving a request body, "app": the application has the whole request
        _phase = "head"
        _since = 0.0
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._await_head()
            if len(self.connections) > limits.max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle and self.cycle is not None:  # a request head arrived
                self._phase = "body"
                self._arm(limits.body_timeout)
            if self._phase == "body" and self.cycle is not None and not self.cycle.more_body:
                self._phase = "app"
                self._disarm()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._await_head()
            super().on_response_complete()  # may start a pipelined request (handle_events)

        def _await_head(self) -> None:
            self._phase = "head"
            self._since = self.loop.time()
            self._arm(limits.header_timeout)

        def _make_room(self) -> None:
            waiting = [
                c
                for c in self.connections
                if isinstance(c, GuardedH11Protocol) and c is not self and c._phase == "head"
            ]
            victim = min(waiting, key=lambda c: c._since) if waiting else self
            victim._close()

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._close)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _close(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def uvicorn_config(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 9090,
    limits: ConnectionLimits | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration ``layoutft serve`` runs ``app`` with: the guarded h11
    protocol (whether or not httptools is installed), no WebSockets, no proxy headers
    trusted, and no ``limit_concurrency`` (the application limits requests)."""
    import uvicorn

    limits = limits or ConnectionLimits()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        ws="none",
        lifespan="off",
        log_level=log_level,
        timeout_keep_alive=limits.keep_alive,
        limit_concurrency=None,
        proxy_headers=False,
        server_header=False,
    )


def is_loopback(host: str) -> bool:
    """True when listening on ``host`` serves this machine only (``127.0.0.1``, ``::1``,
    ``localhost``)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return all(
            ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
        )
