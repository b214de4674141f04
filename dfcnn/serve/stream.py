"""``WS /v1/stream``: live recognition over a WebSocket (``dfcnn.streaming``).

The client sends binary messages of PCM16 little-endian mono audio, 16 kHz unless it declares its
rate (query ``?sample_rate=48000``, or a first text message ``{"type": "config", "sample_rate":
48000}``), then ``{"type": "eof"}`` (Vosk's ``{"eof": 1}`` also works) or just closes. The server
answers with JSON text messages (``?model=NAME`` chooses among the models served; unset: the first):

    {"type": "ready", "sample_rate": 16000, "model": "...", "language": "en", "lookahead_ms": 520,
     "pause_ms": 480, "frame_ms": 40}
    {"type": "partial", "text": "...", "start": 1.2, "end": 2.0, "words": [{"word", "start", "end", "confidence"}]}
    {"type": "final", "text": "...", "start": 1.2, "end": 2.9, "words": [...]}
    {"type": "done", "text": "<all finals>", "duration": 12.5, "reason": "eof" | "shutdown" | "limit" | "idle"}
    {"type": "error", "message": "..."}

Partials are the whole words of the segment still open (``dfcnn.streaming``); finals come at pauses,
and together they equal ``dfcnn transcribe`` of the same audio. Times are seconds of the stream's
audio. ``lookahead_ms``: audio that must follow a frame before it is computed; ``pause_ms``: the
pause after speech that makes it final. ``language``: the speech's ISO 639-1 code, or null when
unknown. A stream ends (with its finals) past ``max_audio_seconds`` of audio or ``request_timeout``
seconds without a message. On SIGTERM every open stream gets its finals and a ``done`` before the
server stops (``reason: "shutdown"``).

With a token (``--api-key``), send ``Authorization: Bearer KEY``. Browsers cannot set headers on a
WebSocket: they offer the subprotocols ``dfcnn`` and ``dfcnn.bearer.<KEY in unpadded base64url>``
(the server answers ``dfcnn``), which keeps the key out of URLs and access logs; ``?api_key=KEY``
works too. A missing or wrong key gets HTTP 401 instead of the upgrade (a browser sees only close
code 1006, so a page checks its key over HTTP first).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.responses import JSONResponse

from ..audio import SAMPLE_RATE
from ..errors import DfcnnError
from ..streaming import StreamConfig, StreamingRecognizer
from .limits import token_matches
from .responses import error_body

MIN_RATE, MAX_RATE = 8000, 192000  # sample rates a stream may declare
POLICY_VIOLATION, INVALID_DATA, GOING_AWAY, TRY_AGAIN_LATER = 1008, 1007, 1001, 1013  # WebSocket close codes
SUBPROTOCOL = "dfcnn"  # the subprotocol the server answers when a client offers it
KEY_SUBPROTOCOL = "dfcnn.bearer."  # prefix of the offered subprotocol carrying the key (base64url)


async def _refuse(websocket: WebSocket, status: int, message: str, headers: dict | None = None) -> None:
    """An HTTP answer instead of the upgrade (where the server supports it), else a close with a reason."""
    try:
        await websocket.send_denial_response(JSONResponse(error_body(message), status_code=status, headers=headers))
    except RuntimeError:  # no denial-response extension: accept, say why, close
        await websocket.accept(subprotocol=_answered_subprotocol(websocket))
        await websocket.send_json({"type": "error", "message": message})
        await websocket.close(TRY_AGAIN_LATER if status == 503 else POLICY_VIOLATION, message[:120])


def _declared_rate(value) -> int:
    try:
        rate = int(value)
    except (TypeError, ValueError):
        raise DfcnnError(f"sample_rate must be a whole number of Hz, got {value!r}") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise DfcnnError(f"sample_rate must lie in [{MIN_RATE}, {MAX_RATE}] Hz, got {rate}")
    return rate


def _answered_subprotocol(websocket: WebSocket) -> str | None:
    """``dfcnn`` when the client offered it: a browser that offered subprotocols fails the connection
    unless the server answers one of them."""
    return SUBPROTOCOL if SUBPROTOCOL in (websocket.scope.get("subprotocols") or []) else None


def _offered_key(websocket: WebSocket) -> str | None:
    """The key a browser sent as a subprotocol, else the ``api_key`` query parameter, else None."""
    for offered in websocket.scope.get("subprotocols") or []:
        if offered.startswith(KEY_SUBPROTOCOL):
            encoded = offered[len(KEY_SUBPROTOCOL) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return websocket.query_params.get("api_key")


def add_stream_route(app: FastAPI, state) -> None:
    config = state.config

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket):
        if not token_matches(config.api_key, websocket.headers.get("authorization"), _offered_key(websocket)):
            return await _refuse(websocket, 401, "missing or incorrect API key")
        admission = state.admission
        if state.draining.is_set() or admission.open_streams >= config.max_streams:
            state.counts["rejected"] += 1
            why = (
                "the server is shutting down"
                if state.draining.is_set()
                else (f"all {config.max_streams} streams are in use")
            )
            return await _refuse(websocket, 503, why, {"Retry-After": "5"})
        try:
            rate = _declared_rate(websocket.query_params.get("sample_rate", SAMPLE_RATE))
        except DfcnnError as error:
            return await _refuse(websocket, 400, str(error))
        served = state.model(websocket.query_params.get("model"))
        if served is None:
            return await _refuse(websocket, 404, state.not_served(websocket.query_params["model"]))
        admission.open_streams += 1
        state.counts["streams"] += 1
        try:
            await websocket.accept(subprotocol=_answered_subprotocol(websocket))
            await _serve_stream(websocket, state, rate, served)
        except WebSocketDisconnect:
            pass  # the client left: nothing to send to
        finally:
            admission.open_streams -= 1


async def _serve_stream(websocket: WebSocket, state, rate: int, served) -> None:
    """Feed the client's audio to a ``StreamingRecognizer`` of the ``served`` model until eof, disconnect,
    shutdown or the length limit."""
    config = state.config
    stream_config = StreamConfig(chunk_seconds=config.stream_chunk_seconds)
    recognizer = StreamingRecognizer(served.recognizer, rate, stream_config)
    await websocket.send_json(_ready(served, recognizer))
    run = state.admission.run_stream
    reason, audio_seen = "eof", False
    draining = asyncio.ensure_future(state.draining.wait())
    try:
        while True:
            receive = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait(
                {receive, draining}, timeout=config.request_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in done:  # shutting down, or a silent client: stop reading, send what is final
                receive.cancel()
                reason = "shutdown" if draining in done else "idle"
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if message.get("bytes") is not None:
                audio_seen = True
                try:
                    events = await run(recognizer.feed, message["bytes"])
                except DfcnnError as error:
                    await websocket.send_json({"type": "error", "message": str(error)})
                    await websocket.close(INVALID_DATA, str(error)[:120])
                    return
                await _send_events(websocket, events)
                if recognizer.seconds > config.max_audio_seconds:
                    reason = "limit"
                    break
                continue
            command = _parse_command(message.get("text") or "")
            if command.get("type") == "eof" or command.get("eof"):
                break
            if command.get("type") == "config" and "sample_rate" in command:
                if audio_seen:
                    await websocket.send_json({"type": "error", "message": "sample_rate can only be set before audio"})
                    continue
                try:
                    recognizer = StreamingRecognizer(
                        served.recognizer, _declared_rate(command["sample_rate"]), stream_config
                    )
                except DfcnnError as error:
                    await websocket.send_json({"type": "error", "message": str(error)})
                    continue
                await websocket.send_json(_ready(served, recognizer))
                continue
            await websocket.send_json(
                {
                    "type": "error",
                    "message": f"unknown message {command!r}: send PCM16 "
                    'audio as binary messages, then {"type": "eof"}',
                }
            )
    finally:
        draining.cancel()
    await _send_events(websocket, await run(recognizer.finish))
    transcript = recognizer.transcript()
    await websocket.send_json(
        {"type": "done", "text": transcript.text, "duration": round(transcript.duration, 3), "reason": reason}
    )
    await websocket.close(GOING_AWAY if reason == "shutdown" else 1000)


def _ready(served, recognizer: StreamingRecognizer) -> dict:
    return {
        "type": "ready",
        "sample_rate": recognizer.sample_rate,
        "model": served.name,
        "language": served.language,
        "lookahead_ms": round(recognizer.lookahead_seconds * 1000),
        "pause_ms": round(recognizer.pause_seconds * 1000),
        "frame_ms": round(recognizer.frame_seconds * 1000),
    }


def _parse_command(text: str) -> dict:
    try:
        command = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text[:80]}
    return command if isinstance(command, dict) else {"value": command}


async def _send_events(websocket: WebSocket, events) -> None:
    for event in events:
        await websocket.send_json(event.to_dict())
