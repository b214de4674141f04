"""Running the app on uvicorn, with a shutdown that lets live streams finish.

On the first SIGTERM (or Ctrl-C) the server stops taking work (503), tells every open stream to send
its finals and a ``done``, waits for them (at most ``shutdown_grace`` seconds), then stops the way
uvicorn does: no new connections, in-flight uploads answered. A second signal stops at once. An idle
server stops within a tick of its loop; ``serve`` then raises ``Interrupted`` naming the signal (the
command prints it in one line and exits 130 or 143), where uvicorn would raise the signal again.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import uvicorn

from ..errors import DfcnnError, Interrupted
from .limits import ServeConfig


class GracefulServer(uvicorn.Server):
    """uvicorn's server with a stream-draining first step on SIGTERM/SIGINT."""

    def __init__(self, config: uvicorn.Config, state, announce=print):
        super().__init__(config)
        self.state = state  # the app's ServerState
        self.announce = announce
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None  # the bound port, once started (useful with port 0)
        self.stop_signal: int | None = None  # the first signal that stopped it
        self._draining = False

    async def startup(self, sockets=None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if self.started and self.servers:
            host, self.port = self.servers[0].sockets[0].getsockname()[:2]
            self.announce(f"dfcnn serve: listening on http://{host}:{self.port}")

    def handle_exit(self, sig, frame) -> None:
        self.stop_signal = self.stop_signal or sig
        if self._draining or self.loop is None or not self.started:  # a second signal, or not serving yet
            self.force_exit = self.should_exit  # as uvicorn's own handler, without its raising the signal again
            self.should_exit = True
            return
        self._draining = True
        self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain(sig)))

    async def _drain(self, sig) -> None:
        state = self.state
        state.draining.set()
        deadline = time.monotonic() + state.config.shutdown_grace
        while state.admission.open_streams and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if state.admission.open_streams:
            self.announce(
                f"dfcnn serve: {state.admission.open_streams} streams still open after "
                f"{state.config.shutdown_grace:g} s; closing them"
            )
        self.should_exit = True


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or a one-line error (port taken, address not on this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        raise DfcnnError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def serve(recognizer, config: ServeConfig, backend: str = "torch", log_level: str = "warning") -> None:
    """Serve ``recognizer`` until SIGTERM/SIGINT (blocking)."""
    from .app import create_app

    sock = listen(config.host, config.port)
    app = create_app(recognizer, config, backend)
    uvicorn_config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="off",
        timeout_graceful_shutdown=config.request_timeout,
        ws_max_size=4 * 1024 * 1024,
        # a stream's pong may wait behind recognition on a busy machine; a silent client is already
        # ended by the stream's own request_timeout, so the keepalive waits as long before closing
        ws_ping_timeout=config.request_timeout,
    )
    server = GracefulServer(uvicorn_config, app.state.dfcnn, announce=lambda line: print(line, flush=True))
    try:
        server.run(sockets=[sock])
    finally:
        app.state.dfcnn.admission.close()
        sock.close()
    if server.stop_signal is not None:
        raise Interrupted(f"serve stopped by {signal.Signals(server.stop_signal).name}", server.stop_signal)
