// The web app of `sana serve`: the official Reactor SDK (2.9.0) against this same origin.
// Source (camera or file) on the left, the edit on the right, prompt editing below.
// docs/web.md describes what each part does and which server messages drive it.
import { Reactor } from "@reactor-team/js-sdk";
import { RateMeter, PromptDelay } from "./metrics.js";
import { PromptTracker } from "./prompts.js";
import { EditRecorder } from "./recorder.js";
import { openCamera, cameraOptions } from "./camera.js";
import { commandError, commandWords, connectionError, sdkError } from "./words.js";

const $ = (id) => document.getElementById(id);
const el = {
  conn: $("conn"), reconnect: $("reconnect"), errors: $("errors"), events: $("events"),
  sourceVideo: $("source-video"), sourceEmpty: $("source-empty"), sourceLabel: $("source-label"),
  editedVideo: $("edited-video"), editedEmpty: $("edited-empty"), badge: $("edited-badge"),
  cameraSelect: $("camera-select"), fileInput: $("file-input"),
  runState: $("run-state"), chunk: $("chunk"), editFps: $("edit-fps"), videoFps: $("video-fps"), delay: $("prompt-delay"),
  promptForm: $("prompt-form"), promptInput: $("prompt-input"), active: $("active-prompt"), pending: $("pending-prompt"),
  history: $("history"), start: $("start"), pause: $("pause"), reset: $("reset"), seed: $("seed"),
  record: $("record"), download: $("download"), recordDot: $("record-dot"), recordTime: $("record-time"),
};

// The server's size and rate (GET /health), the run as the server last described it.
const server = { width: 1280, height: 704, fps: 24 };
const run = { started: false, running: false, paused: false, complete: false, chunk: null, hasVideo: false, seed: null };
const prompts = new PromptTracker();
const delay = new PromptDelay();
const editRate = new RateMeter(10000); // edited frames per second, from chunk_complete
const videoRate = new RateMeter(2000); // presented frames of the edited video
const recorder = new EditRecorder();
const counters = { editedFrames: 0, sourceFrames: 0, chunks: 0 };
const switches = []; // {chunk, prompt}: the chunks at which a pending prompt became active
const acceptedAfter = {}; // prompt -> the last chunk completed when the server accepted it
const token = new URLSearchParams(location.search).get("token");

let reactor = null;
let status = "disconnected";
let source = "camera";
let camera = null;         // {stream, track}
let fileUrl = null;
let downloadUrl = null;
let playSourceOnChunk = false;
let healthTimer = null, healthFailed = false;

// ---- messages to the user ----

function say(text, kind = "") {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (kind) li.className = kind;
  el.events.prepend(li);
  while (el.events.children.length > 60) el.events.lastChild.remove();
}

// Errors stay until dismissed or replaced (one per topic: "connection", a command name ...).
function showError(topic, text) {
  let p = el.errors.querySelector(`[data-topic="${topic}"]`);
  if (!p) {
    p = document.createElement("p");
    p.dataset.topic = topic;
    el.errors.append(p);
  }
  p.textContent = text + " ";
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Dismiss";
  b.setAttribute("aria-label", "dismiss this message");
  b.onclick = () => p.remove();
  p.append(b);
  say(text, "err");
}
const clearError = (topic) => el.errors.querySelector(`[data-topic="${topic}"]`)?.remove();

// ---- connection ----

function setStatus(s) {
  status = s;
  el.conn.textContent = s === "lost" ? "connection lost" : s;
  el.conn.dataset.state = s;
  el.reconnect.hidden = !(s === "disconnected" || s === "lost");
  refresh();
}

async function readHealth() {
  const r = await fetch("/health", { cache: "no-store" });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

async function connect() {
  clearError("connection");
  setStatus("connecting");
  try {
    const h = await readHealth();
    Object.assign(server, { width: h.width, height: h.height, fps: h.fps });
    document.documentElement.style.setProperty("--aspect", `${h.width} / ${h.height}`);
    document.documentElement.style.setProperty("--aspect-n", String(h.width / h.height));
  } catch (e) {
    setStatus("disconnected");
    showError("connection", `The server at ${location.host} is not answering (${e.message}). Is \`sana serve\` running?`);
    return;
  }
  // A fresh client each time; events of an old one are ignored. Closing the old one keeps its
  // session (recoverable): a server that is still there frees it after its idle timeout.
  const old = reactor;
  reactor = null;
  if (old && old.getStatus() !== "disconnected") await old.disconnect(true).catch(() => {});
  const r = token
    ? new Reactor({ modelName: "sana-streaming", apiUrl: location.origin })
    : new Reactor({ modelName: "sana-streaming", local: true, apiUrl: location.origin });
  reactor = r;
  r.on("statusChanged", (s) => r === reactor && onStatus(s));
  r.on("message", (m) => r === reactor && onMessage(m));
  r.on("trackReceived", (...a) => r === reactor && onTrack(...a));
  r.on("error", (e) => r === reactor && onSdkError(e));
  try {
    await r.connect(token || undefined);
  } catch (e) {
    if (!el.errors.querySelector('[data-topic="connection"]'))
      showError("connection", connectionError(e.message || String(e)));
  }
}

async function reconnect() {
  clearError("connection");
  if (reactor && reactor.getSessionId() && reactor.getStatus() === "disconnected") {
    say("reconnecting to the same session ...");
    await reactor.reconnect();
    // reconnect() has applied the answer (then "ready" follows) or failed back to "disconnected"
    if (reactor.getStatus() !== "disconnected" && (await waitReady(8000))) return;
    // Not disconnect(): its stop call names no session, and the server would stop its only one,
    // which after a restart may be someone else's. connect() closes this client keeping quiet.
    say("the session is gone; starting a new one");
  }
  await connect();
}

function waitReady(ms) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const poll = () => {
      if (status === "ready") resolve(true);
      else if (performance.now() - t0 > ms) resolve(false);
      else setTimeout(poll, 100);
    };
    poll();
  });
}

function onStatus(s) {
  if (s === "ready") {
    clearError("connection");
    healthFailed = false;
    setStatus("ready");
    say("connected");
    onReady();
  } else if (s === "disconnected" && status === "ready") {
    setStatus("lost");
    showError("connection", "The connection to the server was lost. Press Reconnect to continue.");
  } else {
    setStatus(s);
  }
}

function onSdkError(e) {
  showError("connection", sdkError(e.code, e.message));
}

// The session is usable: send the source (the camera track goes over the pre-negotiated
// transceiver; a new peer after a reconnect needs it again).
async function onReady() {
  send("set_mode", { mode: source === "camera" ? "live" : "file" }, true);
  if (source === "camera" && camera) await publishCamera();
  if (!healthTimer) healthTimer = setInterval(checkHealth, 3000);
}

// The peer connection notices a dead server only after ICE consent fails; /health says so at once.
async function checkHealth() {
  if (status !== "ready" && !(status === "lost" && healthFailed)) return;
  try {
    await readHealth();
    if (healthFailed && reactor && reactor.getStatus() === "ready") { // a passing glitch
      clearError("connection");
      setStatus("ready");
    }
    healthFailed = false;
  } catch (e) {
    if (healthFailed) return;
    healthFailed = true;
    say(`GET /health failed: ${e.message}`, "err");
    setStatus("lost");
    showError("connection", "The server stopped answering. Press Reconnect once it is running again.");
  }
}

function send(command, data, quiet = false) {
  if (!reactor || status !== "ready") {
    if (!quiet) showError("connection", `Not connected, so "${commandWords(command)}" was not sent. Press Reconnect.`);
    return false;
  }
  reactor.sendCommand(command, data);
  return true;
}

function onTrack(name, track, stream) {
  if (name !== "main_video") return;
  el.editedVideo.srcObject = stream;
  el.editedVideo.play().catch(() => {});
}

// ---- server messages ----

function onMessage(m) {
  const d = (m && m.data) || {};
  switch (m && m.type) {
  case "state":
    Object.assign(run, { started: !!d.started, running: !!d.running, paused: !!d.paused, hasVideo: !!d.has_video });
    if (!d.started) run.complete = false;
    if (d.started && d.current_chunk > 0 && run.chunk === null) run.chunk = d.current_chunk - 1;
    prompts.serverCurrent(d.current_prompt);
    run.seed = d.seed;
    if (Number.isInteger(d.seed) && document.activeElement !== el.seed) el.seed.value = d.seed;
    break;
  case "prompt_accepted":
    acceptedAfter[d.prompt] = run.chunk;
    say(`prompt accepted: "${d.prompt}"`);
    break;
  case "generation_started":
    run.complete = false;
    editRate.clear();
    editRate.tick(performance.now(), 0); // the rate counts from here, not from the first chunk
    say(`generation started${d.prompt ? ` with "${d.prompt}"` : ""}`);
    if (source === "file" && fileUrl) {
      // the clip starts playing with the first edited chunk, so that the two sides roughly line up
      el.sourceVideo.pause();
      el.sourceVideo.currentTime = 0;
      playSourceOnChunk = true;
    }
    break;
  case "chunk_complete": {
    const now = performance.now();
    counters.chunks++;
    run.chunk = d.chunk_index;
    editRate.tick(now, d.frames_emitted || 0);
    if (playSourceOnChunk && source === "file") el.sourceVideo.play().catch(() => {});
    playSourceOnChunk = false;
    if (prompts.chunkUsed(d.active_prompt)) {
      delay.chunkUses(prompts.active);
      switches.push({ chunk: d.chunk_index, prompt: prompts.active });
      say(`chunk ${d.chunk_index}: now "${prompts.active || "(no prompt)"}"`);
    }
    break;
  }
  case "generation_paused":
    say("paused");
    if (source === "file") el.sourceVideo.pause();
    break;
  case "generation_resumed":
    say("resumed");
    editRate.clear();
    editRate.tick(performance.now(), 0);
    if (source === "file" && fileUrl) el.sourceVideo.play().catch(() => {});
    break;
  case "generation_reset":
    say(`reset${d.reason && d.reason !== "reset" ? ` (${d.reason})` : ""}`);
    Object.assign(run, { chunk: null, complete: false });
    prompts.reset();
    el.promptInput.value = ""; // the server cleared its prompt too
    delay.clear();
    editRate.clear();
    if (source === "file") {
      el.sourceVideo.pause();
      // the server forgot the clip: choosing the same file again must fire `change`
      el.fileInput.value = "";
      if (fileUrl) say("choose the video again to run it again");
    }
    break;
  case "generation_complete":
    run.complete = true;
    // the last edited frames are still being paced out: the clip plays on to its end
    say(`generation complete: ${d.total_chunks} chunks`);
    break;
  case "video_accepted":
    clearError("set_video");
    say(`video accepted: ${d.width}x${d.height}, ${d.num_frames ?? d.frame_count} frames` +
        (d.duration_seconds ? `, ${Number(d.duration_seconds).toFixed(1)} s` : ""));
    break;
  case "command_error": {
    showError(d.command || "command", commandError(d.command, d.reason));
    break;
  }
  default:
    break;
  }
  refresh();
}

// ---- sources ----

async function startCamera(deviceId) {
  stopCamera();
  try {
    const stream = await openCamera(deviceId, server);
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail"; // keep the resolution fixed under congestion
    camera = { stream, track };
    clearError("camera");
  } catch (e) {
    showError("camera", `The camera could not be opened (${e.name}: ${e.message}). Check the browser's permission, or use a video file.`);
    refresh();
    return;
  }
  el.sourceVideo.removeAttribute("src");
  el.sourceVideo.loop = false;
  el.sourceVideo.srcObject = camera.stream;
  el.sourceVideo.play().catch(() => {});
  const s = camera.track.getSettings();
  el.sourceLabel.textContent = `${camera.track.label || "camera"} ${s.width}x${s.height}`;
  el.cameraSelect.replaceChildren(...(await cameraOptions(s.deviceId)));
  if (status === "ready") await publishCamera();
  refresh();
}

function stopCamera() {
  if (!camera) return;
  camera.stream.getTracks().forEach((t) => t.stop());
  camera = null;
}

async function publishCamera() {
  try {
    await reactor.publishTrack("camera", camera.track);
  } catch (e) {
    showError("camera", `The camera could not be sent to the server: ${e.message || e}`);
  }
}

async function useSource(kind) {
  source = kind;
  if (kind === "camera") {
    if (fileUrl) { URL.revokeObjectURL(fileUrl); fileUrl = null; }
    send("set_mode", { mode: "live" }, true);
    await startCamera(el.cameraSelect.value || undefined);
  } else {
    stopCamera();
    if (reactor && status === "ready") await reactor.unpublishTrack("camera").catch(() => {});
    el.sourceVideo.srcObject = null;
    el.sourceLabel.textContent = "";
    send("set_mode", { mode: "file" }, true);
  }
  refresh();
}

async function useFile(file) {
  if (!file) return;
  if (!send("set_mode", { mode: "file" })) return;
  if (fileUrl) URL.revokeObjectURL(fileUrl);
  fileUrl = URL.createObjectURL(file);
  el.sourceVideo.srcObject = null;
  el.sourceVideo.src = fileUrl;
  el.sourceVideo.loop = false;
  el.sourceVideo.pause();
  el.sourceLabel.textContent = file.name;
  say(`uploading ${file.name} (${(file.size / 1024).toFixed(0)} KB) ...`);
  try {
    const ref = await reactor.uploadFile(file, { name: file.name });
    send("set_video", { video: ref });
  } catch (e) {
    showError("set_video", `The upload of ${file.name} failed: ${e.message || e}.`);
  }
  refresh();
}

// ---- prompt ----

function sendPrompt(text) {
  text = text.trim();
  if (!send("set_prompt", { prompt: text })) return;
  prompts.sent(text);
  if (run.running) delay.promptSent(text, performance.now());
  refresh();
}

let historyKey = "";
function renderHistory() {
  // rebuilt only on a change, so that a focused history button keeps its focus
  const key = JSON.stringify([prompts.history, prompts.active]);
  if (key === historyKey) return;
  historyKey = key;
  el.history.replaceChildren(...prompts.history.map((h) => {
    const li = document.createElement("li");
    if (h === prompts.active) li.className = "current";
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = h;
    b.title = "use this prompt again";
    b.onclick = () => {
      el.promptInput.value = h;
      sendPrompt(h);
    };
    li.append(b);
    return li;
  }));
}

// ---- recording ----

async function toggleRecord() {
  if (recorder.recording) {
    const res = await recorder.stop();
    el.recordDot.hidden = true;
    if (res && res.blob.size) {
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(res.blob);
      const stamp = new Date().toISOString().replace(/[:T]/g, "-").slice(0, 19);
      el.download.href = downloadUrl;
      el.download.download = `sana-edit-${stamp}.webm`;
      el.download.textContent = `Download recording (${res.seconds.toFixed(1)} s, ${(res.blob.size / 1024).toFixed(0)} KB)`;
      el.download.hidden = false;
      say(`recorded ${res.seconds.toFixed(1)} s`);
    } else {
      showError("record", "The recording is empty: no edited frames arrived while recording.");
    }
  } else {
    const stream = el.editedVideo.srcObject;
    if (!stream) return showError("record", "Nothing to record yet: connect and start first.");
    try {
      recorder.start(stream);
      clearError("record");
      el.recordDot.hidden = false;
    } catch (e) {
      showError("record", `Recording could not start: ${e.message}.`);
    }
  }
  refresh();
}

// ---- view ----

const fmt = (v, digits, unit = "") => (v === null || v === undefined ? "–" : `${v.toFixed(digits)}${unit}`);

function refresh() {
  const now = performance.now();
  const ready = status === "ready";
  const state = !run.started ? "idle" : run.paused ? "paused" : run.complete ? "complete" : run.running ? "running" : "stopped";
  el.runState.textContent = state;
  el.badge.textContent = state;
  el.badge.hidden = !(state === "paused" || state === "complete");
  el.chunk.textContent = run.chunk === null ? "–" : String(run.chunk);
  el.editFps.textContent = fmt(run.running ? editRate.rate(now) : null, 1);
  el.videoFps.textContent = fmt(videoRate.rate(now), 1);
  el.delay.textContent = delay.last ? `${(delay.last.ms / 1000).toFixed(2)} s` : "–";
  el.active.textContent = prompts.active === null ? "(none yet)" : prompts.active || "(no prompt)";
  el.pending.textContent = prompts.pending === null ? "–" : prompts.pending || "(no prompt)";
  const hasSource = source === "camera" ? !!camera : run.hasVideo;
  el.start.disabled = !ready || run.started || !hasSource;
  el.pause.disabled = !ready || !run.started || run.complete || (!run.running && !run.paused);
  el.pause.textContent = run.paused ? "Resume" : "Pause";
  el.reset.disabled = !ready;
  el.seed.disabled = !ready;
  el.record.disabled = !el.editedVideo.srcObject;
  el.record.textContent = recorder.recording ? "Stop recording" : "Record";
  for (const r of document.querySelectorAll('input[name="source"]')) r.disabled = run.started;
  el.cameraSelect.disabled = source !== "camera" || run.started;
  el.fileInput.disabled = source !== "file" || run.started || !ready;
  el.sourceEmpty.hidden = source === "camera" ? !!camera : !!fileUrl;
  el.editedEmpty.hidden = counters.chunks > 0;
  if (recorder.recording) {
    const s = Math.floor((now - recorder.t0) / 1000);
    el.recordTime.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  renderHistory();
}

// Presented frames of both videos (requestVideoFrameCallback), for the rate, the prompt delay
// and the test hooks.
function watchFrames(video, onFrame) {
  let last = 0;
  const cb = (now, meta) => {
    const n = meta.presentedFrames - last;
    last = meta.presentedFrames;
    onFrame(now, n > 0 && n < 100 ? n : 1);
    video.requestVideoFrameCallback(cb);
  };
  video.requestVideoFrameCallback(cb);
}
watchFrames(el.editedVideo, (now, n) => {
  counters.editedFrames += n;
  videoRate.tick(now, n);
  if (delay.framePresented(now)) refresh();
});
watchFrames(el.sourceVideo, (now, n) => { counters.sourceFrames += n; });
setInterval(refresh, 500);

// ---- input ----

el.promptForm.addEventListener("submit", (e) => {
  e.preventDefault();
  sendPrompt(el.promptInput.value);
  el.promptInput.select();
});
for (const chip of document.querySelectorAll(".chip")) chip.onclick = () => {
  el.promptInput.value = chip.textContent;
  sendPrompt(chip.textContent);
};
el.start.onclick = () => {
  send("set_mode", { mode: source === "camera" ? "live" : "file" });
  send("start", {});
};
el.pause.onclick = () => send(run.paused ? "resume" : "pause", {});
el.reset.onclick = () => send("reset", {});
el.seed.addEventListener("change", () => {
  const v = Number(el.seed.value);
  if (Number.isInteger(v)) send("set_seed", { seed: v });
  else showError("set_seed", "The seed must be a whole number.");
});
el.record.onclick = toggleRecord;
el.reconnect.onclick = reconnect;
el.cameraSelect.onchange = () => startCamera(el.cameraSelect.value);
el.fileInput.onchange = () => useFile(el.fileInput.files[0]);
for (const r of document.querySelectorAll('input[name="source"]')) r.onchange = () => r.checked && useSource(r.value);

document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
  if (e.key === "Escape" && typing) e.target.blur();
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "/") {
    e.preventDefault();
    el.promptInput.focus();
  } else if ((e.key === " " || e.key === "k") && !(e.target instanceof HTMLButtonElement)) {
    e.preventDefault();
    if (!el.pause.disabled) el.pause.click();
  }
});

// What the tests read (the same numbers the page shows).
window.sanaApp = {
  snapshot: () => ({
    status, source, run: { ...run }, counters: { ...counters }, active: prompts.active, pending: prompts.pending,
    history: [...prompts.history], switches: [...switches], acceptedAfter: { ...acceptedAfter }, seed: run.seed,
    delayMs: delay.last ? delay.last.ms : null, recording: recorder.recording,
    sessionId: reactor ? reactor.getSessionId() : null,
    sourceSize: [el.sourceVideo.videoWidth, el.sourceVideo.videoHeight],
    editedSize: [el.editedVideo.videoWidth, el.editedVideo.videoHeight],
    server: { ...server },
  }),
  // What the SDK does when the peer connection drops (a network blip): close the transport,
  // keep the session for reconnect().
  dropConnection: () => reactor && reactor.disconnect(true),
};

// Leaving the page ends the session at once (the SDK's own disconnect cannot finish during
// unload), so that a reload is not refused by --max-sessions while the old one times out.
addEventListener("pagehide", () => {
  const id = reactor && reactor.getSessionId();
  if (!id) return;
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  fetch(`/sessions/${encodeURIComponent(id)}`, { method: "DELETE", keepalive: true, headers }).catch(() => {});
});

connect().then(() => startCamera());
refresh();
