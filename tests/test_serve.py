"""dfcnn serve as its clients see it: the official openai client, plain HTTP, WebSocket streams,
limits, tokens, and a SIGTERM that lets streams finish. Servers bind 127.0.0.1 on free ports."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from helpers import dfcnn_serve

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
websockets = pytest.importorskip("websockets")

import uvicorn  # noqa: E402

from dfcnn.loading import load_model  # noqa: E402
from dfcnn.serve.app import create_app  # noqa: E402
from dfcnn.serve.limits import Admission, Busy, ServeConfig, TimedOut  # noqa: E402
from dfcnn.serve.responses import model_language  # noqa: E402
from dfcnn.text import Tokenizer, build_vocab  # noqa: E402


@contextlib.contextmanager
def running(app, timeout: float = 20.0):
    """Serve ``app`` with uvicorn in a thread on a free 127.0.0.1 port; yields the base URL; stops it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        app.state.dfcnn.admission.close()


@pytest.fixture(scope="module")
def recognizer(tiny_model):
    return load_model(tiny_model, "cpu")


@pytest.fixture(scope="module")
def server(recognizer):
    app = create_app(recognizer, ServeConfig(max_audio_seconds=30.0, max_upload_mb=1.0, language="en"))
    with running(app) as url:
        yield url, app


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def test_the_openai_client_transcribes_in_every_format(server, tiny_model, recognizer):
    url, _ = server
    audio = tiny_model.parent / "utt3.wav"
    expected = recognizer.transcribe(audio)
    api = client(url)
    assert [m.id for m in api.models.list()] == ["dfcnn"]
    with open(audio, "rb") as file:
        assert api.audio.transcriptions.create(model="whisper-1", file=file).text == expected.text
    with open(audio, "rb") as file:
        verbose = api.audio.transcriptions.create(
            model="dfcnn",
            file=file,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="en",
        )
    assert verbose.text == expected.text and verbose.duration == pytest.approx(expected.duration, abs=1e-3)
    assert [w.word for w in verbose.words] == [w.word for w in expected.words]
    assert [(s.start, s.end, s.text) for s in verbose.segments] == [
        (round(s.start, 3), round(s.end, 3), s.text) for s in expected.segments
    ]
    for fmt, start in (("text", expected.text), ("srt", "1\n00:00:00,"), ("vtt", "WEBVTT")):
        with open(audio, "rb") as file:
            body = api.audio.transcriptions.create(model="dfcnn", file=file, response_format=fmt)
        assert isinstance(body, str) and body.startswith(start), (fmt, body)


def test_bad_requests_get_400_naming_the_problem_and_the_server_keeps_serving(server, tiny_model, tmp_path):
    url, _ = server
    api = client(url)
    (tmp_path / "notes.wav").write_text("these are not samples")
    with pytest.raises(openai.BadRequestError, match="notes.wav: not a readable audio file"):
        api.audio.transcriptions.create(model="dfcnn", file=open(tmp_path / "notes.wav", "rb"))
    with pytest.raises(openai.BadRequestError, match="response_format 'mp4'"):
        api.audio.transcriptions.create(
            model="dfcnn", file=open(tiny_model.parent / "utt0.wav", "rb"), response_format="mp4"
        )
    with pytest.raises(openai.BadRequestError, match="timestamp_granularities.*verbose_json"):
        api.audio.transcriptions.create(
            model="dfcnn", file=open(tiny_model.parent / "utt0.wav", "rb"), timestamp_granularities=["word"]
        )
    with pytest.raises(openai.BadRequestError, match="transcribes 'en', not 'fr'"):
        api.audio.transcriptions.create(model="dfcnn", file=open(tiny_model.parent / "utt0.wav", "rb"), language="fr")
    missing = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("a.wav", b"RIFF")})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    empty = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("empty.wav", b"")}, data={"model": "x"})
    assert empty.status_code == 400 and "empty.wav: empty file" in empty.json()["error"]["message"]
    with open(tiny_model.parent / "utt0.wav", "rb") as file:
        assert api.audio.transcriptions.create(model="dfcnn", file=file).text is not None  # still serving
    assert httpx.get(f"{url}/health").json()["counts"]["failed"] >= 5


def test_size_and_duration_limits_answer_413(server, tmp_path):
    url, _ = server
    big = os.urandom(1024 * 1024 + 10)  # over --max-upload-mb 1
    declared = httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("big.wav", big)}, data={"model": "x"})
    assert declared.status_code == 413 and "limit of 1 MB" in declared.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        for _ in range(20):
            yield b"\0" * 100_000

    chunked = httpx.post(
        f"{url}/v1/audio/transcriptions", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert chunked.status_code == 413
    long = tmp_path / "long.flac"
    soundfile.write(long, np.zeros(16000 * 31, np.float32), 16000)  # 31 s, small as FLAC silence
    too_long = httpx.post(
        f"{url}/v1/audio/transcriptions", files={"file": ("long.flac", long.read_bytes())}, data={"model": "x"}
    )
    assert too_long.status_code == 413 and "long.flac: 31.0 s of audio" in too_long.json()["error"]["message"]
    assert httpx.get(f"{url}/health").status_code == 200


def test_a_full_queue_answers_503_with_retry_after_and_every_request_gets_an_answer(recognizer, tiny_model):
    app = create_app(recognizer, ServeConfig(max_concurrency=1, max_queue=1, request_timeout=20))
    state = app.state.dfcnn
    release = threading.Event()
    original = state.transcribe_upload

    def held(*upload):  # data, filename, the model chosen
        release.wait(15)
        return original(*upload)

    state.transcribe_upload = held
    audio = (tiny_model.parent / "utt0.wav").read_bytes()
    with running(app) as url:

        async def burst():
            async with httpx.AsyncClient(timeout=30) as http:
                requests = [
                    http.post(f"{url}/v1/audio/transcriptions", files={"file": ("a.wav", audio)}, data={"model": "x"})
                    for _ in range(4)
                ]
                tasks = [asyncio.ensure_future(r) for r in requests]
                await asyncio.sleep(1.0)  # one running, one queued, two refused by now
                release.set()
                return await asyncio.gather(*tasks)

        answers = asyncio.run(burst())
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 503, 503]
    refused = [a for a in answers if a.status_code == 503]
    assert all(int(a.headers["Retry-After"]) >= 1 and "busy" in a.json()["error"]["message"] for a in refused)


def test_admission_times_out_a_request_waiting_too_long():
    async def scenario():
        admission = Admission(ServeConfig(max_concurrency=1, max_queue=0))
        blocker = threading.Event()
        first = asyncio.ensure_future(admission.run(time.monotonic() + 5, blocker.wait, 3))
        await asyncio.sleep(0.1)
        with pytest.raises(Busy):  # queue of 0: refused at once
            await admission.run(time.monotonic() + 5, lambda: None)
        with pytest.raises(TimedOut):
            waiting = Admission(ServeConfig(max_concurrency=1, max_queue=1))
            hold = asyncio.ensure_future(waiting.run(time.monotonic() + 5, blocker.wait, 3))
            await asyncio.sleep(0.1)
            await waiting.run(time.monotonic() + 0.2, lambda: None)
        blocker.set()
        await first
        await hold
        admission.close()
        waiting.close()

    asyncio.run(scenario())


def test_a_token_is_required_when_set(recognizer, tiny_model):
    app = create_app(recognizer, ServeConfig(api_key="s3cret"))
    with running(app) as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        assert [m.id for m in client(url, "s3cret").models.list()] == ["dfcnn"]
        assert httpx.get(f"{url}/health").json()["auth"] is True  # health and the page stay open
        assert httpx.get(f"{url}/").status_code == 200

        async def stream(query: str):
            async with websockets.connect(f"{url.replace('http', 'ws')}/v1/stream{query}") as ws:
                return json.loads(await ws.recv())["type"]

        with pytest.raises(websockets.exceptions.InvalidStatus, match="401"):
            asyncio.run(stream(""))
        assert asyncio.run(stream("?api_key=s3cret")) == "ready"

        async def offer(key: str):  # what a browser does: the key as a subprotocol, out of the URL
            encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
            async with websockets.connect(
                f"{url.replace('http', 'ws')}/v1/stream", subprotocols=["dfcnn", f"dfcnn.bearer.{encoded}"]
            ) as ws:
                return json.loads(await ws.recv())["type"], ws.subprotocol

        assert asyncio.run(offer("s3cret")) == ("ready", "dfcnn")
        with pytest.raises(websockets.exceptions.InvalidStatus, match="401"):
            asyncio.run(offer("s3cre"))


async def stream_file(url: str, path: Path, block: int = 3200, rate_in_config: bool = False) -> list[dict]:
    """Send a file as PCM16 over WS /v1/stream (its rate declared), then eof; every message received."""
    samples, rate = soundfile.read(path, dtype="int16")
    query = "" if rate_in_config else f"?sample_rate={rate}"
    async with websockets.connect(f"{url.replace('http', 'ws')}/v1/stream{query}") as ws:
        messages = [json.loads(await ws.recv())]
        if rate_in_config:
            await ws.send(json.dumps({"type": "config", "sample_rate": rate}))
            messages.append(json.loads(await ws.recv()))
        for start in range(0, len(samples), block):
            await ws.send(samples[start : start + block].tobytes())
        await ws.send(json.dumps({"type": "eof"}))
        messages += [json.loads(m) async for m in ws]
    return messages


def test_a_stream_gets_partials_finals_and_the_offline_text(server, recognizer, tiny_model, tmp_path):
    url, _ = server
    audio = tmp_path / "two.wav"
    waves = [soundfile.read(tiny_model.parent / f"utt{i}.wav", dtype="float32")[0] for i in (3, 4)]
    soundfile.write(audio, np.concatenate([waves[0], np.zeros(16000, np.float32), waves[1]]), 16000)
    messages = asyncio.run(stream_file(url, audio))
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "ready" and kinds[-1] == "done" and messages[-1]["reason"] == "eof"
    finals = [m for m in messages if m["type"] == "final"]
    assert messages[-1]["text"] == " ".join(m["text"] for m in finals) == recognizer.transcribe(audio).text
    assert all(0 <= w["start"] <= w["end"] <= messages[-1]["duration"] for m in finals for w in m["words"])
    resampled = tmp_path / "eight.wav"  # 8 kHz declared in a config message: resampled on the way in
    soundfile.write(resampled, waves[0][::2], 8000)
    messages = asyncio.run(stream_file(url, resampled, rate_in_config=True))
    assert [m["type"] for m in messages[:2]] == ["ready", "ready"] and messages[1]["sample_rate"] == 8000
    assert messages[-1]["type"] == "done" and messages[-1]["duration"] == pytest.approx(len(waves[0]) / 16000, abs=0.01)


def test_bad_stream_input_is_refused_with_a_reason(server):
    url, _ = server
    ws_url = url.replace("http", "ws")

    async def odd_bytes():
        async with websockets.connect(f"{ws_url}/v1/stream") as ws:
            await ws.recv()
            await ws.send(b"\x01\x02\x03")
            error = json.loads(await ws.recv())
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await ws.recv()
            return error, closed.value.rcvd.code

    error, code = asyncio.run(odd_bytes())
    assert error["type"] == "error" and "2-byte samples" in error["message"] and code == 1007

    async def bad_rate():
        async with websockets.connect(f"{ws_url}/v1/stream?sample_rate=5"):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus, match="400"):
        asyncio.run(bad_rate())


def test_sigterm_lets_open_streams_send_their_finals(tiny_model):
    """A real `dfcnn serve` process: a stream in mid-sentence gets its finals and a done, then the server exits."""
    samples, _ = soundfile.read(tiny_model.parent / "utt3.wav", dtype="int16")
    with dfcnn_serve("--model", tiny_model) as (process, url):

        async def interrupted():
            async with websockets.connect(f"{url.replace('http', 'ws')}/v1/stream") as ws:
                await ws.recv()
                await ws.send(samples.tobytes())  # no eof: the server is stopped mid-stream
                await asyncio.sleep(0.5)
                process.send_signal(signal.SIGTERM)
                messages = [json.loads(m) async for m in ws]
                return messages, ws.close_code

        messages, code = asyncio.run(asyncio.wait_for(interrupted(), 60))
        assert messages[-1]["type"] == "done" and messages[-1]["reason"] == "shutdown" and code == 1001
        assert messages[-1]["duration"] == pytest.approx(len(samples) / 16000, abs=1e-3)  # all the audio was heard
        process.wait(timeout=30)  # and then it stops


def test_the_language_is_the_models_or_unknown_never_a_guess(recognizer, tiny_model):
    audio = (tiny_model.parent / "utt3.wav").read_bytes()

    def verbose(url: str, **fields) -> httpx.Response:
        data = {"model": "x", "response_format": "verbose_json", **fields}
        return httpx.post(f"{url}/v1/audio/transcriptions", files={"file": ("a.wav", audio)}, data=data, timeout=30)

    async def ready(url: str) -> dict:
        async with websockets.connect(f"{url.replace('http', 'ws')}/v1/stream") as ws:
            return json.loads(await ws.recv())

    # letters with the english normaliser say what a model writes, not what it hears (yesno: Hebrew as yes/no)
    with running(create_app(recognizer, ServeConfig())) as url:
        assert httpx.get(f"{url}/health").json()["language"] is None
        assert verbose(url).json()["language"] == "unknown"
        assert verbose(url, language="fr").status_code == 200  # nothing to contradict
        message = asyncio.run(ready(url))
        assert message["language"] is None and message["lookahead_ms"] > 0 and message["pause_ms"] > 0
    with running(create_app(recognizer, ServeConfig(language="he"))) as url:
        assert httpx.get(f"{url}/health").json()["language"] == "he"
        assert verbose(url).json()["language"] == "he"
        refused = verbose(url, language="en")
        assert refused.status_code == 400 and "transcribes 'he', not 'en'" in refused.json()["error"]["message"]
        assert asyncio.run(ready(url))["language"] == "he"
    # units that fix the language: ARPAbet phones are English, pinyin syllables Mandarin
    assert model_language(Tokenizer(tuple(build_vocab(["hello"], unit="phone")), "english", "phone")) == "en"
    assert model_language(Tokenizer(tuple(build_vocab(["你好"], unit="pinyin")), "mandarin", "pinyin")) == "zh"
    assert model_language(Tokenizer(tuple(build_vocab(["你好"])), "mandarin")) == "zh"
    assert model_language(Tokenizer(tuple(build_vocab(["yes no"])), "english")) is None


def test_docs_load_nothing_from_other_hosts(server):
    """/docs works offline: Swagger UI from the swagger-ui-py package when installed, else the local listing page."""
    import re

    url, _ = server
    page = httpx.get(f"{url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = re.findall(r"""(?:src|href)\s*[=:]\s*["']([^"']+)["']""", page.text)
    assert links and all(link.startswith("/") for link in links), links
    for link in links:
        assert httpx.get(f"{url}{link}").status_code == 200, link
    assert "/v1/audio/transcriptions" in httpx.get(f"{url}/openapi.json").json()["paths"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_idle_server_stops_on_a_signal_with_a_line(tiny_model, stop):
    with dfcnn_serve("--model", tiny_model) as (process, url):
        process.send_signal(stop)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 128 + stop
    assert output.splitlines() == [f"dfcnn: serve stopped by {stop.name}"]
