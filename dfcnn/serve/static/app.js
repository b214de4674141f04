// The dfcnn page: live microphone transcription over WS /v1/stream, and file transcription through
// POST /v1/audio/transcriptions with the words lit as the audio plays.
//
// Test hooks (used by the headless-browser test, harmless otherwise): ?autostart=mic&seconds=N records
// for N seconds on load; document.body.dataset.state is idle | recording | finishing | done | error,
// dataset.fileState is idle | working | ready | error.

"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let modelName = "dfcnn";

function apiKey() {
  return $("api-key").value || localStorage.getItem("dfcnn-api-key") || "";
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

async function loadInfo() {
  try {
    const health = await (await fetch("/health")).json();
    modelName = health.model;
    $("model").textContent = `${health.model} · ${health.backend} · ${health.language || "any language"}`;
    $("key-field").hidden = !health.auth;
    $("api-key").value = localStorage.getItem("dfcnn-api-key") || "";
  } catch (error) {
    $("model").textContent = `server unreachable (${error})`;
  }
}

// ---- live: microphone -> AudioWorklet (16 kHz PCM16) -> WebSocket -> partials and finals ----

const live = { socket: null, context: null, node: null, media: null, timer: null };

function streamUrl() {
  const url = new URL("/v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("sample_rate", "16000");
  if (apiKey()) url.searchParams.set("api_key", apiKey());
  return url;
}

function onStreamMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type === "ready") {
    $("live-status").textContent = `listening · answers within ${message.lookahead_ms} ms of audio`;
  } else if (message.type === "partial") {
    $("live-partial").textContent = message.text;
  } else if (message.type === "final") {
    $("live-partial").textContent = "";
    appendWords($("live-final"), message.words, message.text);
  } else if (message.type === "done") {
    $("live-status").textContent = `done · ${message.duration.toFixed(1)} s of audio`;
    document.body.dataset.state = "done";
  } else if (message.type === "error") {
    $("live-status").textContent = message.message;
    $("live-status").className = "error";
  }
}

async function startRecording() {
  $("live-final").textContent = "";
  $("live-partial").textContent = "";
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule("/static/pcm-worklet.js");
  const socket = new WebSocket(streamUrl());
  socket.binaryType = "arraybuffer";
  socket.onmessage = onStreamMessage;
  socket.onclose = (event) => {
    if (document.body.dataset.state !== "done") {
      document.body.dataset.state = "error";
      $("live-status").textContent = `stream closed (${event.code} ${event.reason || ""})`;
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
    }
  };
  const mute = context.createGain();
  mute.gain.value = 0;
  context.createMediaStreamSource(media).connect(node);
  node.connect(mute).connect(context.destination); // pulled by the graph, heard by no one
  Object.assign(live, { socket, context, node, media });
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
  $("live-status").textContent = "finishing…";
  live.node.port.postMessage({ type: "flush" }); // the worklet answers "flushed", then we send eof
  setTimeout(stopAudio, 200);
}

async function toggleRecording() {
  if (live.node) return stopRecording();
  try {
    await startRecording();
  } catch (error) {
    document.body.dataset.state = "error";
    $("live-status").textContent = `cannot record: ${error.message || error}`;
    $("live-status").className = "error";
  }
}

// ---- file: upload, then words lit in time with the player ----

let fileWords = [];

async function transcribeFile(file) {
  document.body.dataset.fileState = "working";
  $("file-status").textContent = `transcribing ${file.name}…`;
  $("file-status").className = "muted";
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
  $("api-key").addEventListener("change", () => localStorage.setItem("dfcnn-api-key", $("api-key").value));
  $("record").addEventListener("click", toggleRecording);
  setUpFiles();
  await loadInfo();
  if (params.get("autostart") === "mic") {
    await toggleRecording();
    const seconds = Number(params.get("seconds") || "5");
    live.timer = setTimeout(stopRecording, seconds * 1000);
  }
});
