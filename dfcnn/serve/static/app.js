// The dfcnn page: live microphone transcription over WS /v1/stream, and file transcription through
// POST /v1/audio/transcriptions with the words lit as the audio plays.
//
// The latency shown is measured here: from the moment the end of a word's audio left the microphone
// (the AudioWorklet posts each 100 ms chunk when its last sample arrives) to the moment the partial or
// final holding that word arrived (event times are seconds of the audio sent).
//
// A server of several models (dfcnn serve without --model: the shipped ones) gets a selector; the
// choice goes to the upload's model field and the stream's ?model=. ?model=NAME preselects one.
//
// Test hooks (used by the headless-browser test, harmless otherwise): ?autostart=mic&seconds=N records
// for N seconds on load; document.body.dataset.state is idle | recording | finishing | done | error,
// dataset.fileState is idle | working | ready | error; dataset.partialLatency and dataset.finalLatency
// are the measured medians in seconds; window.partialTexts lists every partial shown.

"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const KEY_STORE = "dfcnn-api-key"; // sessionStorage: the key lasts as long as this tab, never on disk
const RATE = 16000; // what the worklet sends
let modelName = "dfcnn";
let models = []; // [{id, language}] of /health: the first is the server's default
let backend = "";
let needsKey = false; // the server was started with --api-key (or DFCNN_API_KEY)
window.partialTexts = [];

function apiKey() {
  return $("api-key").value.trim();
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function wordSpan(word) {
  const span = document.createElement("span");
  span.className = "word" + (word.confidence !== undefined && word.confidence < 0.5 ? " low" : "");
  span.textContent = word.word;
  span.dataset.start = word.start;
  span.dataset.end = word.end;
  const confidence = word.confidence !== undefined ? `, confidence ${word.confidence.toFixed(2)}` : "";
  span.title = `${word.start.toFixed(2)}–${word.end.toFixed(2)} s${confidence}`;
  return span;
}

function appendWords(container, words, text) {
  // a segment's words as spans (its text alone when it has no word times)
  const segment = document.createElement("span");
  segment.className = "segment";
  if (words && words.length) {
    words.forEach((word, index) => {
      if (index) segment.append(" ");
      segment.append(wordSpan(word));
    });
  } else {
    segment.textContent = text;
  }
  container.append(segment, " ");
  return segment;
}

function showModel() {
  const chosen = models.find((model) => model.id === modelName) || { id: modelName, language: null };
  const language = chosen.language ? `language: ${chosen.language}` : "language unknown";
  $("model").textContent = `${chosen.id} · ${backend} · ${language}`;
  $("model").title = chosen.language ? "" : "the server was not told what language this model hears (dfcnn serve --language CODE)";
}

async function loadInfo() {
  try {
    const health = await (await fetch("/health")).json();
    models = health.models || [{ id: health.model, language: health.language }];
    modelName = models.some((model) => model.id === params.get("model")) ? params.get("model") : health.model;
    backend = health.backend;
    needsKey = health.auth;
    const choice = $("model-choice");
    choice.textContent = "";
    for (const model of models) choice.append(new Option(model.language ? `${model.id} (${model.language})` : model.id, model.id));
    choice.value = modelName;
    $("model-field").hidden = models.length < 2;
    showModel();
    $("key-field").hidden = !health.auth;
    $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
  } catch (error) {
    $("model").textContent = `server unreachable (${error})`;
  }
}

async function keyProblem() {
  // why the server will refuse this page's requests, or null: asked over HTTP, because a WebSocket the
  // server refuses shows the page nothing but close code 1006
  if (!needsKey) return null;
  if (!apiKey()) {
    return "this server needs an API key: enter it in the API key field above (the key dfcnn serve was started with: --api-key or DFCNN_API_KEY)";
  }
  const response = await fetch("/v1/models", { headers: authHeaders() });
  return response.status === 401 ? "this server refused the API key: check the API key field above" : null;
}

function base64url(text) {
  let binary = "";
  new TextEncoder().encode(text).forEach((byte) => (binary += String.fromCharCode(byte)));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// ---- live: microphone -> AudioWorklet (16 kHz PCM16) -> WebSocket -> partials and finals ----

const live = { socket: null, context: null, node: null, media: null, timer: null };

function setLiveStatus(text, isError = false) {
  $("live-status").textContent = text;
  $("live-status").className = isError ? "error" : "muted";
}

function fail(text) {
  document.body.dataset.state = "error";
  setLiveStatus(text, true);
}

function streamUrl() {
  const url = new URL("/v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("sample_rate", String(RATE));
  if (models.length > 1) url.searchParams.set("model", modelName);
  return url;
}

function streamProtocols() {
  // the key travels as a subprotocol, not in the URL, so it stays out of access logs
  return apiKey() ? ["dfcnn", `dfcnn.bearer.${base64url(apiKey())}`] : [];
}

// ---- latency, measured: when each chunk was sent, and when the words of each event arrived ----

function spokenAt(seconds) {
  // performance.now() when the audio at `seconds` of the stream left the microphone (null: not sent)
  const sample = seconds * RATE;
  const sent = live.sent;
  let low = 0;
  let high = sent.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sent[middle][0] < sample) low = middle + 1;
    else high = middle;
  }
  if (low === sent.length) return null;
  const [end, time] = sent[low];
  return time - ((end - sample) / RATE) * 1000;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function measure(kind, end) {
  const at = spokenAt(end);
  if (at === null) return;
  live.latency[kind].push((performance.now() - at) / 1000);
  const shown = [];
  for (const [name, label] of [["partial", "words"], ["final", "finals"]]) {
    const values = live.latency[name];
    if (!values.length) continue;
    const value = median(values);
    document.body.dataset[`${name}Latency`] = value.toFixed(3);
    shown.push(`${label} ${value.toFixed(2)} s`);
  }
  $("live-latency").textContent = `${shown.join(" · ")} after speech (measured)`;
  $("live-latency").title =
    `medians of ${live.latency.partial.length} partials and ${live.latency.final.length} finals, from the end of a ` +
    `word's audio at the microphone to its arrival here. The server computes a frame once ${live.ready.lookahead_ms} ms ` +
    `of audio follow it, shows a word once the next word or a pause begins, and ends a segment after ` +
    `${live.ready.pause_ms} ms of pause.`;
}

function onStreamMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type === "ready") {
    live.ready = message;
    setLiveStatus("listening");
  } else if (message.type === "partial") {
    $("live-partial").textContent = message.text;
    window.partialTexts.push(message.text);
    if (message.text && message.end > live.partialEnd) {
      live.partialEnd = message.end; // a revision of words already timed is not a new word
      measure("partial", message.end);
    }
  } else if (message.type === "final") {
    $("live-partial").textContent = "";
    appendWords($("live-final"), message.words, message.text);
    measure("final", message.end);
    live.partialEnd = message.end;
  } else if (message.type === "done") {
    setLiveStatus(`done · ${message.duration.toFixed(1)} s of audio`);
    if (!$("live-final").textContent) $("live-final").textContent = "(no speech heard)";
    document.body.dataset.state = "done";
  } else if (message.type === "error") {
    live.error = message.message;
    setLiveStatus(message.message, true);
  }
}

async function startRecording() {
  $("live-final").textContent = "";
  $("live-partial").textContent = "";
  $("live-latency").textContent = "";
  Object.assign(live, { sent: [], samples: 0, latency: { partial: [], final: [] }, partialEnd: 0, ready: null, error: null });
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule("/static/pcm-worklet.js");
  const socket = new WebSocket(streamUrl(), streamProtocols());
  socket.binaryType = "arraybuffer";
  socket.onmessage = onStreamMessage;
  socket.onclose = (event) => {
    if (document.body.dataset.state !== "done") {
      const why = live.error || (live.ready ? `the stream closed (code ${event.code}${event.reason ? `: ${event.reason}` : ""})`
        : `the server closed the stream before it began (code ${event.code}): is it still running?`);
      fail(why);
    }
    stopAudio();
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the WebSocket did not open"));
  });
  const node = new AudioWorkletNode(context, "pcm-resampler", {
    processorOptions: { targetRate: 16000, chunk: 1600 }, // 100 ms per message
  });
  node.port.onmessage = (event) => {
    if (event.data === "flushed") {
      socket.send(JSON.stringify({ type: "eof" }));
    } else if (socket.readyState === WebSocket.OPEN) {
      socket.send(event.data);
      live.samples += event.data.byteLength / 2;
      live.sent.push([live.samples, performance.now()]); // the chunk's last sample left the microphone now
    }
  };
  const mute = context.createGain();
  mute.gain.value = 0;
  context.createMediaStreamSource(media).connect(node);
  node.connect(mute).connect(context.destination); // pulled by the graph, heard by no one
  Object.assign(live, { socket, context, node, media });
  $("live-hint").hidden = true;
  document.body.dataset.state = "recording";
  $("record").textContent = "■ Stop";
  $("record").classList.add("recording");
}

function stopAudio() {
  if (live.media) live.media.getTracks().forEach((track) => track.stop());
  if (live.context) live.context.close();
  Object.assign(live, { context: null, node: null, media: null });
  $("record").textContent = "● Record";
  $("record").classList.remove("recording");
}

function stopRecording() {
  clearTimeout(live.timer);
  if (!live.node) return;
  document.body.dataset.state = "finishing";
  setLiveStatus("finishing…");
  live.node.port.postMessage({ type: "flush" }); // the worklet answers "flushed", then we send eof
  setTimeout(stopAudio, 200);
}

async function toggleRecording() {
  if (live.node) return stopRecording();
  setLiveStatus("connecting…");
  try {
    const problem = await keyProblem();
    if (problem) {
      fail(problem);
      $("api-key").classList.add("missing");
      $("api-key").focus();
      return;
    }
    await startRecording();
  } catch (error) {
    fail(`cannot record: ${error.message || error}`);
  }
}

// ---- file: upload, then words lit in time with the player ----

let fileWords = [];

async function transcribeFile(file) {
  document.body.dataset.fileState = "working";
  $("file-status").textContent = `transcribing ${file.name}…`;
  $("file-status").className = "muted";
  const problem = await keyProblem();
  if (problem) {
    document.body.dataset.fileState = "error";
    $("file-status").textContent = problem;
    $("file-status").className = "error";
    $("api-key").classList.add("missing");
    return;
  }
  const form = new FormData();
  form.append("file", file);
  form.append("model", modelName);
  form.append("response_format", "verbose_json");
  form.append("timestamp_granularities[]", "word");
  form.append("timestamp_granularities[]", "segment");
  const started = performance.now();
  const response = await fetch("/v1/audio/transcriptions", { method: "POST", body: form, headers: authHeaders() });
  const body = await response.json();
  if (!response.ok) {
    document.body.dataset.fileState = "error";
    $("file-status").textContent = body.error ? body.error.message : `error ${response.status}`;
    $("file-status").className = "error";
    return;
  }
  const seconds = (performance.now() - started) / 1000;
  $("file-status").textContent = `${file.name}: ${body.duration.toFixed(1)} s of audio in ${seconds.toFixed(2)} s`;
  const drop = $("drop");
  drop.textContent = "";
  const byStart = body.words || [];
  for (const segment of body.segments || []) {
    const words = byStart.filter((w) => w.start >= segment.start - 1e-3 && w.end <= segment.end + 1e-3);
    appendWords(drop, words, segment.text);
  }
  if (!body.segments || body.segments.length === 0) drop.textContent = "(no speech found)";
  fileWords = Array.from(drop.querySelectorAll(".word"));
  fileWords.forEach((span) => {
    span.classList.add("unspoken");
    span.addEventListener("click", () => {
      $("player").currentTime = Number(span.dataset.start);
      $("player").play();
    });
  });
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  player.hidden = false;
  document.body.dataset.fileState = "ready";
}

function highlight() {
  // light the word under the playhead; words before it are spoken, after it unspoken
  const now = $("player").currentTime;
  for (const span of fileWords) {
    const start = Number(span.dataset.start);
    const end = Number(span.dataset.end);
    span.classList.toggle("active", start <= now && now < Math.max(end, start + 0.08));
    span.classList.toggle("spoken", end <= now);
    span.classList.toggle("unspoken", start > now);
  }
  if (!$("player").paused) requestAnimationFrame(highlight);
}

function setUpFiles() {
  const drop = $("drop");
  const section = $("file-section");
  $("file-input").addEventListener("change", (event) => {
    if (event.target.files.length) transcribeFile(event.target.files[0]);
  });
  section.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  section.addEventListener("dragleave", () => drop.classList.remove("over"));
  section.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) transcribeFile(event.dataTransfer.files[0]);
  });
  $("player").addEventListener("play", () => requestAnimationFrame(highlight));
  $("player").addEventListener("seeked", highlight);
  $("player").addEventListener("ended", highlight);
}

window.addEventListener("DOMContentLoaded", async () => {
  $("api-key").addEventListener("change", () => sessionStorage.setItem(KEY_STORE, apiKey()));
  $("api-key").addEventListener("input", () => $("api-key").classList.remove("missing"));
  $("record").addEventListener("click", toggleRecording);
  $("model-choice").addEventListener("change", (event) => {
    modelName = event.target.value;
    showModel();
  });
  setUpFiles();
  await loadInfo();
  if (params.get("autostart") === "mic") {
    await toggleRecording();
    const seconds = Number(params.get("seconds") || "5");
    live.timer = setTimeout(stopRecording, seconds * 1000);
  }
});
