"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives, shared by the e-mail tests."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message and accept it."""
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be started late, on a port chosen up front."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = Collector()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """Return the messages received so far."""
        return self.collector.messages

    def start(self) -> None:
        """Start listening."""
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening, if it was."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture()
def smtp() -> Iterator[SMTPServer]:
    """Return a running local SMTP server."""
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def smtp_down() -> Iterator[SMTPServer]:
    """Return a server that is not running yet: its port refuses connections until ``start()``."""
    server = SMTPServer()
    yield server
    server.stop()


def body_of(received: Received) -> str:
    """Return the plain-text body of a received message."""
    part = received.message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content
