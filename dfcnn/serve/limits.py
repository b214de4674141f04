"""What the server lets in: its options, admission to the recognition threads (a bounded queue, 503
with Retry-After past it, a deadline per request), request body size, and the bearer token.

Recognition runs in worker threads so the event loop keeps answering (health checks, partials,
rejections) while the CPU works. Each recognition uses ``threads`` intra-op threads.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import check_field

API_KEY_ENV = "DFCNN_API_KEY"  # the bearer token, when --api-key is not given


@dataclass(frozen=True)
class ServeConfig:
    """How ``dfcnn serve`` listens and what it accepts."""

    host: str = "127.0.0.1"  # interface to bind; localhost only unless asked (0.0.0.0: every interface)
    port: int = 8000  # TCP port (0: any free port)
    model_name: str = "dfcnn"  # the model id /v1/models lists; requests may name any model
    language: str | None = None  # ISO 639-1 code of the speech the model hears (None: from its units, or unknown)
    api_key: str | None = None  # bearer token required by /v1 endpoints and the stream (None: open)
    max_upload_mb: float = 25.0  # larger request bodies get 413 (OpenAI's own limit is 25 MB)
    max_audio_seconds: float = 3600.0  # longer uploads get 413; a stream is ended with its finals here
    max_concurrency: int = 2  # uploads recognised at once (worker threads); as many again for streams
    max_queue: int = 16  # uploads waiting for a worker; more get 503 with Retry-After
    max_streams: int = 16  # open WebSocket streams; more are refused with 503
    request_timeout: float = 120.0  # seconds from arrival to answer, queueing included; later: 504
    threads: int = 1  # intra-op threads per recognition (torch or onnxruntime)
    stream_chunk_seconds: float = 0.32  # audio per network pass of a stream: latency against CPU
    shutdown_grace: float = 10.0  # seconds open streams get to send their finals on SIGTERM

    def __post_init__(self):
        check_field(0 <= self.port <= 65535, "port", f"must lie in [0, 65535], got {self.port}")
        for name in ("max_upload_mb", "max_audio_seconds", "request_timeout", "stream_chunk_seconds"):
            value = getattr(self, name)
            check_field(math.isfinite(value) and value > 0, name, f"must be a positive number, got {value}")
        check_field(self.shutdown_grace >= 0, "shutdown_grace", f"must be >= 0, got {self.shutdown_grace}")
        for name in ("max_concurrency", "max_streams", "threads"):
            check_field(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        check_field(self.max_queue >= 0, "max_queue", f"must be >= 0, got {self.max_queue}")
        check_field(self.api_key is None or len(self.api_key) > 0, "api_key", "must not be empty")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def api_key_from_env(given: str | None) -> str | None:
    """``--api-key`` when given, else $DFCNN_API_KEY, else None (no token needed)."""
    return given if given is not None else (os.environ.get(API_KEY_ENV) or None)


def token_matches(expected: str | None, authorization: str | None, query_token: str | None = None) -> bool:
    """Whether a request carries the token: ``Authorization: Bearer KEY``, or (browsers' WebSockets,
    which cannot set headers) an ``api_key`` query parameter. Compared in constant time."""
    if expected is None:
        return True
    given = query_token
    if authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Busy(Exception):
    """The queue is full: answer 503 with Retry-After."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy: {retry_after} s is a fair wait before trying again")
        self.retry_after = retry_after


class TimedOut(Exception):
    """The request's deadline passed: answer 504."""


class Admission:
    """At most ``max_concurrency`` uploads recognised at once, ``max_queue`` more waiting in order;
    streams have their own threads (a long upload never stalls a live stream)."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.uploads = ThreadPoolExecutor(config.max_concurrency, thread_name_prefix="dfcnn-upload")
        self.streams = ThreadPoolExecutor(config.max_concurrency, thread_name_prefix="dfcnn-stream")
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self.running = 0
        self.waiting = 0
        self.open_streams = 0
        self._seconds_per_request = 1.0  # running mean of recognition time: the Retry-After estimate

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead, shared by the workers."""
        ahead = self.waiting + self.running
        return max(1, math.ceil(self._seconds_per_request * ahead / self.config.max_concurrency))

    async def run(self, deadline: float, work, *args):
        """``work(*args)`` in an upload thread once a slot is free; ``Busy`` when the queue is full,
        ``TimedOut`` past ``deadline`` (a ``time.monotonic()`` value). A timed-out recognition runs on to
        its end (a thread cannot be stopped), holding its slot: the queue stays honest."""
        if self.running + self.waiting >= self.config.max_concurrency + self.config.max_queue:  # before any await
            raise Busy(self.retry_after())
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimedOut() from None
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(self.uploads, work, *args)

        def release(_):
            self.running -= 1
            self._slots.release()
            self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * (time.monotonic() - started)

        future.add_done_callback(release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimedOut() from None

    async def run_stream(self, work, *args):
        """``work(*args)`` in a stream thread (streams are bounded by ``max_streams``, not queued)."""
        return await asyncio.get_running_loop().run_in_executor(self.streams, work, *args)

    def close(self) -> None:
        self.uploads.shutdown(wait=False, cancel_futures=True)
        self.streams.shutdown(wait=False, cancel_futures=True)


DRAIN_LIMIT = 256 * 1024 * 1024  # bytes of an oversized body read and discarded so the client sees the 413


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, whether its size is declared
    (Content-Length: rejected before the app runs) or not (chunked: rejected once the count passes).
    The rest of the body is read and discarded (up to ``DRAIN_LIMIT``), so a client that sends its
    whole body before reading (most do) gets the 413 and not a broken pipe."""

    def __init__(self, app, limit: int, respond):
        self.app, self.limit, self.respond = app, limit, respond  # respond(status, message) -> ASGI app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._reject(scope, receive, send, more=True)
        seen, rejected = 0, False

        async def limited_receive():
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.limit:
                    rejected = True
                    await self._reject(scope, receive, send, more=event.get("more_body", False))
                    return {"type": "http.disconnect"}  # the app stops reading; its answer is dropped
            return event

        async def guarded_send(event):
            if not rejected:
                await send(event)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, scope, receive, send, more: bool) -> None:
        drained = 0
        while more and drained <= DRAIN_LIMIT:
            event = await receive()
            if event["type"] != "http.request":
                break
            drained += len(event.get("body", b""))
            more = event.get("more_body", False)
        message = f"the request body is larger than this server's limit of {self.limit / 1024 / 1024:g} MB"
        await self.respond(413, message)(scope, receive, send)
