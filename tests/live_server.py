"""The live server of the browser tests and R3, without a 40 ms wait on every keep-alive request.

Django's test server writes an answer's headers and its body in separate sends. On a kept-alive connection,
Nagle's algorithm holds the body until the client acknowledges the headers, and the client delays that
acknowledgement by up to 40 ms: every request but a connection's first took about 47 ms on an idle machine
(3.6 ms on fresh connections), so R3's schemathesis run spent most of its time waiting. TCP_NODELAY on each
accepted connection sends the body at once; nothing else about the server changes.
"""

from __future__ import annotations

import socket

from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread


class NoDelayWSGIServer(ThreadedWSGIServer):
    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


def install() -> None:
    """Every LiveServerThread (pytest-django's `live_server` fixture starts one) serves with NoDelayWSGIServer."""
    LiveServerThread.server_class = NoDelayWSGIServer
