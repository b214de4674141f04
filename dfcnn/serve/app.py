"""The HTTP API of ``dfcnn serve`` (FastAPI), compatible with OpenAI's audio transcription endpoint.

    POST /v1/audio/transcriptions   multipart: file, model, response_format, timestamp_granularities[], language
    GET  /v1/models                 the models served; ``model`` chooses one (any value, when one is served:
                                    clients hard-code names)
    GET  /health                    status, load and limits; 503 while shutting down
    WS   /v1/stream                 live audio in, partials and finals out (``dfcnn.serve.stream``)
    GET  /                          the browser page (``static/``)
    GET  /docs, /openapi.json       the API's documentation, served offline (``dfcnn.serve.docs``)

    app = create_app(load_model("exp/"), ServeConfig(api_key="secret"))
    app = create_app([ServedModel("english", load_model("english"), "en"), ServedModel("mandarin", ...)])

Errors have OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``): 400 for a bad file
or field (the message names it), 401 for a missing or wrong token, 413 past the size or duration
limit, 503 with Retry-After when the queue is full or the server is stopping, 504 past the request
timeout. A failed request never takes the server down.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..audio import audio_info
from ..errors import AudioError, DfcnnError
from ..transcript import Transcript
from .docs import add_docs_routes
from .limits import Admission, BodyLimit, Busy, ServeConfig, TimedOut, token_matches
from .responses import GRANULARITIES, RESPONSE_FORMATS, error_body, model_language, render

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """Speech recognition with a DFCNN model. `POST /v1/audio/transcriptions` is OpenAI's
transcription call: the `openai` client works with `base_url` set to this server's `/v1`.

Live audio goes over the WebSocket `/v1/stream` (not listed below: OpenAPI has no WebSockets): send
PCM16 little-endian mono audio as binary messages (16 kHz, or declare `?sample_rate=48000`), then
`{"type": "eof"}`; the server answers with JSON messages `ready`, `partial` (the whole words heard so
far), `final` (a segment ended by a pause, with word times), `done` and `error`.

With `--api-key`, send `Authorization: Bearer KEY` (a browser's WebSocket offers the subprotocols
`dfcnn` and `dfcnn.bearer.<KEY in base64url>`). `/health` and the page at `/` are open."""


class ApiError(Exception):
    """An answer other than 200: status, message, and OpenAI's error type, param and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers or {}


def error_response(status: int, message: str, **details) -> JSONResponse:
    headers = details.pop("headers", None)
    return JSONResponse(error_body(message, **details), status_code=status, headers=headers)


@dataclass(frozen=True)
class ServedModel:
    """A model the server offers: the API's ``model`` field and the stream's ``?model=`` choose it by name."""

    name: str  # its id in /v1/models
    recognizer: object  # a Recognizer (either backend)
    language: str | None  # ISO 639-1 code of the speech it hears (None: unknown)


class ServerState:
    """What every request shares: the models, the limits, the admission queue, shutdown."""

    def __init__(self, recognizer, config: ServeConfig, backend: str = "torch"):
        if not isinstance(recognizer, (list, tuple)):  # one model, named and described by the config
            language = config.language or model_language(recognizer.tokenizer)  # None: unknown
            recognizer = [ServedModel(config.model_name, recognizer, language)]
        self.models = {served.name: served for served in recognizer}  # the first is the default
        self.default = recognizer[0]
        self.recognizer = self.default.recognizer
        self.language = self.default.language
        self.config = config
        self.backend = backend
        self.admission = Admission(config)
        self.draining = asyncio.Event()  # set on SIGTERM: streams finish, new work is refused
        self.started = time.time()
        self.counts = {"transcriptions": 0, "streams": 0, "rejected": 0, "failed": 0}

    def model(self, name: str | None) -> ServedModel | None:
        """The model a request names; with one model served, any name (clients hard-code "whisper-1");
        None for a name that is not served when several are."""
        if name in self.models:
            return self.models[name]
        return self.default if len(self.models) == 1 or not name else None

    def not_served(self, name: str) -> str:
        return f"the model {name!r} is not served here; choose one of {', '.join(self.models)}"

    def transcribe_upload(self, data: bytes, filename: str, served: ServedModel | None = None) -> Transcript:
        """Recognise uploaded bytes (worker thread): a temp file read like any other; errors name the upload."""
        name = Path(filename).name or "upload"
        with tempfile.TemporaryDirectory(prefix="dfcnn-upload-") as folder:
            path = Path(folder) / f"audio{Path(name).suffix.lower()}"
            path.write_bytes(data)
            try:
                duration = audio_info(path)[0]
                if duration > self.config.max_audio_seconds:
                    raise ApiError(
                        413,
                        f"{name}: {duration:.1f} s of audio; this server takes at most "
                        f"{self.config.max_audio_seconds:g} s",
                        param="file",
                    )
                transcript = (served or self.default).recognizer.transcribe(path)
            except AudioError as error:
                raise ApiError(400, str(error).replace(str(path), name), param="file") from None
        transcript.audio_filepath = name
        return transcript

    def check_open(self) -> None:
        if self.draining.is_set():
            raise ApiError(503, "the server is shutting down", "server_error", headers={"Retry-After": "5"})


def create_app(recognizer, config: ServeConfig | None = None, backend: str = "torch") -> FastAPI:
    """The FastAPI app serving ``recognizer`` (either backend; named ``config.model_name``), or a list of
    ``ServedModel`` (the first the default), under ``config``'s limits."""
    from .stream import add_stream_route

    config = config or ServeConfig()
    state = ServerState(recognizer, config, backend)
    app = FastAPI(title="dfcnn", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.dfcnn = state
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes, respond=error_response)
    _add_error_handlers(app, state)

    async def require_token(request: Request) -> None:
        if not token_matches(config.api_key, request.headers.get("authorization")):
            raise ApiError(
                401,
                "missing or incorrect API key (send Authorization: Bearer KEY)",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    authorized = [Depends(require_token)]

    @app.get("/health")
    async def health():
        """Status, load, limits, the model's name and language (null: unknown), and whether a key is needed."""
        admission = state.admission
        body = {
            "status": "draining" if state.draining.is_set() else "ok",
            "model": state.default.name,
            "models": [{"id": served.name, "language": served.language} for served in state.models.values()],
            "backend": backend,
            "language": state.language,
            "uptime_s": round(time.time() - state.started, 1),
            "running": admission.running,
            "queued": admission.waiting,
            "streams": admission.open_streams,
            "counts": state.counts,
            "auth": config.api_key is not None,
            "limits": {
                "max_upload_mb": config.max_upload_mb,
                "max_audio_seconds": config.max_audio_seconds,
                "max_concurrency": config.max_concurrency,
                "max_queue": config.max_queue,
                "max_streams": config.max_streams,
                "request_timeout": config.request_timeout,
            },
        }
        return JSONResponse(body, status_code=503 if state.draining.is_set() else 200)

    def model_card(name: str) -> dict:
        return {"id": name, "object": "model", "created": int(state.started), "owned_by": "dfcnn"}

    @app.get("/v1/models", dependencies=authorized)
    async def models():
        """The models served (with one, any ``model`` value is accepted by the transcription call)."""
        return {"object": "list", "data": [model_card(name) for name in state.models]}

    @app.get("/v1/models/{model_id}", dependencies=authorized)
    async def model(model_id: str):
        if model_id not in state.models:
            raise ApiError(
                404,
                f"the model {model_id!r} does not exist here; this server has {', '.join(map(repr, state.models))}",
                param="model",
                code="model_not_found",
            )
        return model_card(model_id)

    @app.post("/v1/audio/transcriptions", dependencies=authorized)
    async def transcriptions(
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form()],
        response_format: Annotated[str, Form()] = "json",
        language: Annotated[str | None, Form()] = None,
        prompt: Annotated[str | None, Form()] = None,
        temperature: Annotated[float | None, Form()] = None,
        timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
        stream: Annotated[bool | None, Form()] = None,
    ):
        """OpenAI's transcription call; ``prompt`` and ``temperature`` are accepted and unused (no sampling)."""
        deadline = time.monotonic() + config.request_timeout
        state.check_open()
        served = state.model(model)
        if served is None:
            raise ApiError(404, state.not_served(model), param="model", code="model_not_found")
        granularities = _check_fields(served, response_format, language, timestamp_granularities, stream)
        data = await file.read()
        if not data:
            raise ApiError(400, f"{file.filename or 'file'}: empty file (0 bytes)", param="file")
        transcript = await state.admission.run(
            deadline, state.transcribe_upload, data, file.filename or "upload", served
        )
        state.counts["transcriptions"] += 1
        body, media_type = render(transcript, response_format, served.language, granularities)
        if isinstance(body, dict):
            return JSONResponse(body)
        return PlainTextResponse(body, media_type=media_type)

    add_stream_route(app, state)
    add_docs_routes(app)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _check_fields(
    served: ServedModel,
    response_format: str,
    language: str | None,
    granularities: list[str] | None,
    stream: bool | None,
) -> list[str]:
    """Validate the form fields as OpenAI does; returns the timestamp granularities asked for."""
    if response_format not in RESPONSE_FORMATS:
        raise ApiError(
            400,
            f"response_format {response_format!r} is not one of {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    granularities = [g for g in granularities or [] if g]
    unknown = [g for g in granularities if g not in GRANULARITIES]
    if unknown:
        raise ApiError(
            400,
            f"timestamp_granularities[] {unknown[0]!r} is not one of {', '.join(GRANULARITIES)}",
            param="timestamp_granularities",
        )
    if granularities and response_format != "verbose_json":
        raise ApiError(
            400, "timestamp_granularities[] needs response_format=verbose_json", param="timestamp_granularities"
        )
    if language and served.language and language.lower().split("-")[0] != served.language:
        raise ApiError(
            400, f"the model {served.name} transcribes {served.language!r}, not {language!r}", param="language"
        )
    if stream:
        raise ApiError(
            400, "stream=true is not supported here: stream audio over the WebSocket /v1/stream", param="stream"
        )
    return granularities


def _add_error_handlers(app: FastAPI, state: ServerState) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request, error: ApiError):
        state.counts["rejected" if error.status in (413, 503) else "failed"] += 1
        return error_response(
            error.status, error.message, kind=error.kind, param=error.param, code=error.code, headers=error.headers
        )

    @app.exception_handler(Busy)
    async def busy(request, error: Busy):
        state.counts["rejected"] += 1
        return error_response(
            503, str(error), kind="server_error", code="server_busy", headers={"Retry-After": str(error.retry_after)}
        )

    @app.exception_handler(TimedOut)
    async def timed_out(request, error: TimedOut):
        state.counts["failed"] += 1
        return error_response(
            504,
            f"no answer within the request timeout ({state.config.request_timeout:g} s)",
            kind="server_error",
            code="timeout",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request, error: RequestValidationError):
        state.counts["failed"] += 1
        first = error.errors()[0]
        field = str(first["loc"][-1]) if first.get("loc") else None
        return error_response(400, f"{field}: {first['msg']}" if field else first["msg"], param=field)

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException):
        return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(DfcnnError)
    async def dfcnn_error(request, error: DfcnnError):
        state.counts["failed"] += 1
        return error_response(400, str(error))

    @app.exception_handler(Exception)
    async def unexpected(request, error: Exception):
        state.counts["failed"] += 1
        return error_response(500, f"internal error: {type(error).__name__}: {error}", kind="server_error")
