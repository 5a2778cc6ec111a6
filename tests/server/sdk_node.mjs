// Conformance of `sana serve` with the real client: @reactor-team/js-sdk 2.9.0 in Node, WebRTC by
// @roamhq/wrtc (VP8), all on loopback. Two ways to run it:
// - over the engine TEST DOUBLE (which paints the top rows of each output frame in a colour
//   derived from the chunk's prompt, so the prompt switch is also checked in the pixels):
//     node sdk_node.mjs <sana_serve_double> <node_modules dir> <scratch dir>
// - over the REAL engine, `sana serve` on the tiny random model on the CPU (slower chunks, so the
//   waits are scaled; the pixels are checked to be the engine's, not the black placeholder; a
//   reset and a client vanishing while a chunk is computed are checked against the server log):
//     node sdk_node.mjs <sana binary> <node_modules dir> <scratch dir> --real <weights dir> [--size WxH]
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const argv = process.argv.slice(2);
const [bin, nodeModules, scratch] = argv.slice(0, 3).map((a) => path.resolve(a));
const flag = (name) => { const i = argv.indexOf(name); return i > 0 ? argv[i + 1] : undefined; };
const realWeights = flag("--real"); // the real engine: `sana serve --weights DIR --backend cpu`
const real = !!realWeights;
const require = createRequire(path.join(nodeModules, "x.js"));
const wrtc = require("@roamhq/wrtc");
for (const k of ["RTCPeerConnection", "RTCSessionDescription", "RTCIceCandidate", "MediaStream", "MediaStreamTrack"])
  globalThis[k] = wrtc[k];
process.env.NODE_ENV = "production"; // keeps the SDK's "status must be ready" guard on (§13.3)
console.debug = () => {};
const { Reactor } = await import(pathToFileURL(path.join(nodeModules, "@reactor-team/js-sdk/dist/index.mjs")).href);

const [W, H] = (flag("--size") || (real ? "64x64" : "320x192")).split("x").map(Number); // served size
// Waits are bounds, not delays: a chunk of the real engine takes seconds on a loaded CPU.
const slow = real ? 8 : 1;
let failures = 0, checks = 0;
const check = (cond, what) => {
  checks++;
  if (!cond) { failures++; console.log(`FAIL: ${what}`); } else console.log(`ok: ${what}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, ms, what) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) { const v = pred(); if (v) return v; await sleep(20); }
  check(false, `timed out after ${ms} ms waiting for ${what}`);
  return null;
}

// ---- the server ----
fs.mkdirSync(scratch, { recursive: true });
const weights = real ? path.resolve(realWeights) : path.join(scratch, "weights");
fs.mkdirSync(weights, { recursive: true });
const serverCmd = real ? ["serve", "--backend", "cpu", "--log-level", "debug"] : [];
function startServer(extra) {
  const p = spawn(bin, [...serverCmd, "--weights", weights, "--port", "0", "--size", `${W}x${H}`, "--idle-timeout", "6",
                        "--max-upload-mb", "1", ...extra], { stdio: ["ignore", "pipe", "pipe"],
    // Full malloc stacks, so that lsan.supp can tell GLib's init-time allocations from ours.
    env: { ...process.env, ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ""}:fast_unwind_on_malloc=0` } });
  let log = "";
  p.stderr.on("data", (d) => { log += d; });
  const url = new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) resolve(m[1]);
    });
    p.on("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { p, url, log: () => log };
}
const server = startServer(["--max-sessions", "2"]);
// Lines of the server log after a mark (real engine: the worker logs each chunk it runs).
const logAfter = (mark) => server.log().slice(mark);
const api = await server.url;
console.log(`server at ${api}`);

// The prompt colour of the test double: FNV-1a of the UTF-8 text, one byte per channel.
function promptRGB(s) {
  let h = 2166136261;
  for (const b of Buffer.from(s, "utf8")) h = Math.imul(h ^ b, 16777619) >>> 0;
  return [h & 255, (h >>> 8) & 255, (h >>> 16) & 255];
}
const rgbToYuv = ([r, g, b]) => [16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
  128 + (-37.797 * r - 74.203 * g + 112 * b) / 255, 128 + (112 * r - 93.786 * g - 18.214 * b) / 255];
const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

// ---- the client ----
const messages = [], runtime = [], statuses = [], errors = [];
const frames = { count: 0, sizes: new Set(), lastTop: null, lumaMean: 0, lumaStd: 0 };
const reactor = new Reactor({ modelName: "sana-streaming", local: true, apiUrl: api });
reactor.on("statusChanged", (s) => statuses.push(s));
reactor.on("message", (m) => messages.push(m));
reactor.on("runtimeMessage", (m) => runtime.push(m));
reactor.on("error", (e) => errors.push(e));
let sink = null;
reactor.on("trackReceived", (name, track) => {
  if (name !== "main_video" || sink) return;
  sink = new wrtc.nonstandard.RTCVideoSink(track);
  sink.onframe = ({ frame }) => {
    frames.count++;
    frames.sizes.add(`${frame.width}x${frame.height}`);
    const y = frame.data[2 * frame.width + (frame.width >> 1)];
    const cOff = frame.width * frame.height, q = (frame.width >> 1) * (frame.height >> 1);
    const u = frame.data[cOff + (frame.width >> 2)], v = frame.data[cOff + q + (frame.width >> 2)];
    frames.lastTop = [y, u, v];
    let sum = 0, sq = 0;
    const n = frame.width * frame.height;
    for (let i = 0; i < n; i++) { sum += frame.data[i]; sq += frame.data[i] * frame.data[i]; }
    frames.lumaMean = sum / n;
    frames.lumaStd = Math.sqrt(Math.max(0, sq / n - frames.lumaMean ** 2));
  };
});

const t0 = Date.now();
await reactor.connect();
await until(() => reactor.getStatus() === "ready", 20000, "status ready");
check(reactor.getStatus() === "ready", `connect -> ready in ${Date.now() - t0} ms`);
const sid = reactor.getSessionId();
check(typeof sid === "string" && sid.length > 8, "session id from /start_session");
await until(() => messages.find((m) => m.type === "state"), 3000, "state on connect");
check(messages.some((m) => m.type === "state" && m.data.running === false), "state on connect, not running");

// Camera: a moving gradient at 24 fps, deliberately not the served size; switches size later.
const source = new wrtc.nonstandard.RTCVideoSource();
const camTrack = source.createTrack();
let camW = 320, camH = 180, tick = 0;
const camTimer = setInterval(() => {
  const data = new Uint8ClampedArray(camW * camH * 1.5);
  for (let i = 0; i < camW * camH; i++) data[i] = (i + tick * 4) & 255;
  data.fill(128, camW * camH);
  source.onFrame({ width: camW, height: camH, data });
  tick++;
}, 1000 / 24);
reactor.publishTrack("camera", camTrack);

await until(() => frames.count > 5, 5000, "main_video frames before start");
check(frames.sizes.has(`${W}x${H}`) && frames.sizes.size === 1, `main_video at the served size (${[...frames.sizes]})`);

// Capabilities (what ReactorController asks for).
reactor.sendCommand("requestCapabilities", {}, "runtime");
await until(() => runtime.find((m) => m.type === "modelCapabilities"), 3000, "modelCapabilities");
const caps = runtime.find((m) => m.type === "modelCapabilities");
check(caps && caps.data.commands.some((c) => c.name === "set_prompt" && c.schema.prompt.maxLength === 1000),
      "modelCapabilities publishes the prompt limit");

const since = (n) => messages.slice(n);
const waitMsg = async (from, pred, ms, what) => until(() => since(from).find(pred), ms, what);

// Bad commands over the data channel: each gets a command_error naming the problem.
async function expectError(cmd, data, needle) {
  const n = messages.length;
  reactor.sendCommand(cmd, data);
  const e = await waitMsg(n, (m) => m.type === "command_error", 3000, `command_error for ${cmd}`);
  check(e && e.data.reason.includes(needle), `${cmd} ${JSON.stringify(data).slice(0, 40)} -> command_error "${e && e.data.reason}"`);
}
await expectError("start", {}, "no source");                    // default mode is file, no video
await expectError("resume", {}, "not paused");
await expectError("explode", {}, "unknown command 'explode'");
await expectError("set_prompt", { prompt: 42 }, "'prompt' must be a string");
await expectError("set_seed", { seed: "seven" }, "'seed' must be an integer");
await expectError("set_prompt", { prompt: "x".repeat(1001) }, "limit is 1000");
await expectError("set_mode", { mode: "tape" }, "\"live\" or \"file\"");

// Live run.
let n = messages.length;
reactor.sendCommand("set_mode", { mode: "live" });
reactor.sendCommand("set_prompt", { prompt: "make it watercolor" });
reactor.sendCommand("start", {});
check(!!await waitMsg(n, (m) => m.type === "prompt_accepted" && m.data.prompt === "make it watercolor", 3000, "prompt_accepted"), "prompt_accepted");
check(!!await waitMsg(n, (m) => m.type === "generation_started", 3000, "generation_started"), "generation_started");
const c1 = await waitMsg(n, (m) => m.type === "chunk_complete", 6000 * slow, "first chunk_complete");
check(c1 && c1.data.chunk_index === 0 && c1.data.frames_emitted === 33 && c1.data.active_prompt === "make it watercolor",
      `first chunk_complete ${JSON.stringify(c1 && c1.data)}`);
check(!!await waitMsg(n, (m) => m.type === "state" && m.data.running === true && m.data.current_chunk >= 1, 2000,
                     "state at the chunk boundary"), "state at the chunk boundary");
// Edited frames are paced at the source rate behind any already queued: allow a chunk's delay.
const want1 = rgbToYuv(promptRGB("make it watercolor"));
if (real) {
  // Before the first chunk the server repeats a black frame (Y 16, flat); the engine's frames
  // are the tiny random model's output, neither black nor flat.
  const engineFrame = () => frames.lumaStd > 2 || Math.abs(frames.lumaMean - 16) > 4;
  await until(engineFrame, 4000 * slow, "the engine's frames");
  check(engineFrame(), `edited frames arrive: luma mean ${frames.lumaMean.toFixed(1)}, std ${frames.lumaStd.toFixed(1)} (black: 16, 0)`);
} else {
  await until(() => frames.lastTop && dist(frames.lastTop, want1) < 40, 4000, "the first prompt's colour");
  check(frames.lastTop && dist(frames.lastTop, want1) < 40,
        `edited frames arrive: top rows ${frames.lastTop && frames.lastTop.map(Math.round)} ~ prompt colour ${want1.map(Math.round)}`);
}

// Mid-stream prompt change: lands at the next chunk boundary. A chunk already running when the
// prompt arrived keeps the old one (the real engine's chunks take seconds, so this happens): the
// worker logs "chunk K running" before it reads the prompt, and "set_prompt accepted" is logged
// after the prompt was handed over, so an old-prompt chunk must have started before that line.
n = messages.length;
const markB = server.log().length;
reactor.sendCommand("set_prompt", { prompt: "make it a pencil sketch" });
await waitMsg(n, (m) => m.type === "prompt_accepted", 3000, "prompt_accepted B");
let next = await waitMsg(n, (m) => m.type === "chunk_complete", 4000 * slow, "chunk after set_prompt");
if (next && next.data.active_prompt !== "make it a pencil sketch") {
  const log = logAfter(markB), iRun = log.indexOf(`chunk ${next.data.chunk_index} running`);
  check(iRun < log.indexOf("set_prompt accepted"),
        `chunk ${next.data.chunk_index} kept the old prompt: it was already running when the prompt arrived`);
  next = await waitMsg(messages.indexOf(next) + 1, (m) => m.type === "chunk_complete", 4000 * slow, "the chunk after");
}
check(next && next.data.active_prompt === "make it a pencil sketch",
      `the next chunk_complete carries the new prompt (${next && JSON.stringify(next.data)})`);
if (!real) {
  const want2 = rgbToYuv(promptRGB("make it a pencil sketch"));
  await until(() => frames.lastTop && dist(frames.lastTop, want2) < 40, 4000, "the new prompt's colour");
  check(frames.lastTop && dist(frames.lastTop, want2) < 40 && dist(frames.lastTop, want2) < dist(frames.lastTop, want1),
        `the video shows the new prompt (${frames.lastTop && frames.lastTop.map(Math.round)} ~ ${want2.map(Math.round)})`);
}

// Camera resolution change mid-stream: rescaled, the run goes on, output size unchanged. With the
// real engine a chunk already running holds frames of the old size: wait for two more chunks.
n = messages.length;
camW = 256; camH = 144;
for (let k = 0; k < (real ? 2 : 1); k++) {
  const c = await waitMsg(n, (m) => m.type === "chunk_complete", 5000 * slow, "chunk after a camera resize");
  if (c) n = messages.indexOf(c) + 1;
}
check(since(n - 1).some((m) => m.type === "chunk_complete"), "camera resolution change mid-stream: chunks continue");
check(frames.sizes.size === 1, `sent resolution stays fixed (${[...frames.sizes]})`);

// A chunk of this session that the worker started after log offset `from` (real engine, from
// the log) and is still computing, or null. Waiting for a fresh start leaves the caller most of
// a chunk's time to act while it is in flight.
const sidLog = `session ${sid.slice(0, 8)}: `;
function chunkInFlight(id8 = sidLog, from = 0) {
  const log = server.log().slice(from);
  const runs = [...log.matchAll(new RegExp(`${id8}chunk (\\d+) running`, "g"))];
  if (!runs.length) return null;
  const k = runs[runs.length - 1][1], after = log.slice(runs[runs.length - 1].index);
  return after.includes(`${id8}chunk ${k} done`) || after.includes(`${id8}chunk ${k} discarded`) ? null : Number(k);
}

// Pause / resume.
n = messages.length;
let mark = server.log().length;
reactor.sendCommand("pause", {});
check(!!await waitMsg(n, (m) => m.type === "state" && m.data.paused === true && m.data.running === false, 3000, "paused state"), "pause -> state paused");
await sleep(300);
const pausedAt = messages.length;
await sleep(real ? 3000 : 1500);
if (real) { // a chunk in flight at the pause may finish; none may start after it
  const log = logAfter(mark), acc = log.indexOf(`${sidLog}pause accepted`);
  check(acc >= 0 && !new RegExp(`${sidLog}chunk \\d+ running`).test(log.slice(acc)), "no chunk starts while paused");
} else {
  check(!since(pausedAt).some((m) => m.type === "chunk_complete"), "no chunk_complete while paused");
}
const framesBefore = frames.count;
await sleep(500);
check(frames.count > framesBefore + 5, "main_video keeps flowing while paused");
await expectError("pause", {}, "not running");
n = messages.length;
reactor.sendCommand("resume", {});
check(!!await waitMsg(n, (m) => m.type === "chunk_complete", 5000 * slow, "chunk after resume"), "resume -> chunks again");

// Reset. With the real engine: while a chunk is being computed, and followed at once by a new
// start; neither may wait for the chunk, nor may HTTP (the log shows the chunk discarded after).
const fresh = server.log().length;
if (real) await until(() => chunkInFlight(sidLog, fresh) !== null, 5000 * slow, "a chunk in flight");
const inFlight = real ? chunkInFlight(sidLog, fresh) : null;
n = messages.length;
mark = server.log().length;
reactor.sendCommand("reset", {});
const gr = await waitMsg(n, (m) => m.type === "generation_reset", 3000, "generation_reset");
check(!!gr, "reset -> generation_reset");
const st = await waitMsg(messages.indexOf(gr), (m) => m.type === "state", 3000, "state after reset");
check(st && st.data.started === false && st.data.running === false && st.data.current_prompt === null && st.data.mode === "live",
      `state after reset ${st && JSON.stringify(st.data)}`);
if (real) {
  n = messages.length;
  reactor.sendCommand("start", {});
  const gs = await waitMsg(n, (m) => m.type === "generation_started", 3000, "generation_started after reset");
  const t = Date.now();
  const r0 = await fetch(`${api}/health`);
  const healthMs = Date.now() - t, logAtHealth = logAfter(mark);
  const discarded = `${sidLog}chunk ${inFlight} discarded: the run was reset`;
  check(inFlight !== null && gs && r0.status === 200 && !logAtHealth.includes(discarded),
        `reset and a new start while chunk ${inFlight} computes: answered, /health in ${healthMs} ms, before the chunk ended`);
  await until(() => logAfter(mark).includes(discarded), 5000 * slow, "the reset chunk discarded");
  const c = await waitMsg(n, (m) => m.type === "chunk_complete", 6000 * slow, "first chunk of the new run");
  check(c && c.data.chunk_index === 0 && c.data.frames_emitted === 33, `the new run starts at chunk 0 ${c && JSON.stringify(c.data)}`);
  n = messages.length;
  reactor.sendCommand("reset", {});
  await waitMsg(n, (m) => m.type === "generation_reset", 3000, "generation_reset");
}

// HTTP: the session limit, unknown sessions, garbage SDP, version headers.
const extra = await (await fetch(`${api}/start_session`, { method: "POST", body: "{}" })).json();
let r = await fetch(`${api}/start_session`, { method: "POST", body: "{}" });
check(r.status === 429 && (await r.json()).error.includes("session limit"), `third session over the limit of 2 -> ${r.status}`);
// stop_session without an id (what the SDK sends) stops the session started from the caller's
// address; the whole of 127/8 is loopback, so other "hosts" are other source addresses.
const health = async () => (await (await fetch(`${api}/health`)).json()).sessions;
r = await fetch(`${api}/stop_session`, { method: "POST" });
let body = await r.json();
check(r.status === 409 && body.error.includes("2 sessions were started from 127.0.0.1") && await health() === 2,
      `stop_session without an id, two sessions from this address -> ${r.status} ${body.error}, none stopped`);
r = await fetch(`${api}/stop_session`, { method: "POST", body: JSON.stringify({ session_id: extra.session_id }) });
check(r.status === 200, `stop_session with an id -> ${r.status}`);
function postFrom(localAddress, route) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${api}${route}`, { method: "POST", localAddress }, (res) => {
      let b = "";
      res.on("data", (d) => { b += d; });
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(b || "{}") }));
    });
    req.on("error", reject);
    req.end("{}");
  });
}
const other = await postFrom("127.0.0.2", "/start_session");
let o = await postFrom("127.0.0.3", "/stop_session");
check(other.status === 200 && o.status === 404 && o.body.error.includes("no session was started from 127.0.0.3"),
      `stop_session without an id from an address with no session -> ${o.status} ${o.body.error}`);
o = await postFrom("127.0.0.2", "/stop_session");
check(o.status === 200 && await health() === 1 && !!(await fetch(`${api}/sessions/${sid}`)).ok,
      `stop_session without an id from 127.0.0.2 stops the session it started, not ours -> ${o.status}`);
r = await fetch(`${api}/sessions/nope/transport/webrtc/sdp_params`);
check(r.status === 404, `unknown session -> ${r.status}`);
r = await fetch(`${api}/sessions/${sid}/transport/webrtc/sdp_params`, { method: "POST",
  body: JSON.stringify({ sdp_offer: "hello, I am not SDP", track_mapping: [{ mid: "0", name: "main_video" }] }) });
check(r.status === 400, `garbage SDP -> ${r.status} ${JSON.stringify(await r.json())}`);
r = await fetch(`${api}/sessions/${sid}/transport/webrtc/sdp_params`, { method: "POST", body: "{not json" });
check(r.status === 400, `malformed JSON body -> ${r.status}`);
r = await fetch(`${api}/start_session`, { method: "POST", headers: { "Reactor-API-Version": "2" }, body: "{}" });
check(r.status === 501, `Reactor-API-Version 2 -> ${r.status}`);
r = await fetch(`${api}/sessions/${sid}/uploads`, { method: "POST", body: JSON.stringify({ name: "big.mp4", size: 5 << 20, mime_type: "video/mp4" }) });
check(r.status === 413, `upload over the limit -> ${r.status}`);
r = await fetch(`${api}/sessions/${sid}/transport/webrtc/ice_servers`, { method: "OPTIONS", headers: { Origin: "http://example.test" } });
check(r.status === 204 && r.headers.get("access-control-allow-origin") === "http://example.test", `CORS preflight -> ${r.status}`);
n = messages.length;
reactor.sendCommand("set_seed", { seed: 1234 });
check(!!await waitMsg(n, (m) => m.type === "state" && m.data.seed === 1234, 3000, "state after set_seed"),
      "the session's peer survived the bad requests (set_seed -> state)");

// File mode: a clip made by ffmpeg, then a file that is not a video.
let fileDone = false;
try {
  const clip = path.join(scratch, "clip.webm");
  execFileSync("ffmpeg", ["-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x96:rate=24", "-frames:v", "40",
                          "-c:v", "libvpx", "-pix_fmt", "yuv420p", clip]);
  n = messages.length;
  const ref = await reactor.uploadFile(new Blob([fs.readFileSync(clip)], { type: "video/webm" }), { name: "clip.webm" });
  check(ref && ref.uploadId, "uploadFile -> FileRef");
  reactor.sendCommand("set_mode", { mode: "file" });
  reactor.sendCommand("set_video", { video: ref });
  const acc = await waitMsg(n, (m) => m.type === "video_accepted", 5000, "video_accepted");
  check(acc && acc.data.num_frames === 40 && acc.data.width === 160, `video_accepted ${acc && JSON.stringify(acc.data)}`);
  reactor.sendCommand("set_prompt", { prompt: "file edit" });
  reactor.sendCommand("start", {});
  const done = await waitMsg(n, (m) => m.type === "generation_complete", 10000 * slow, "generation_complete");
  check(done && done.data.total_chunks === 2, `generation_complete ${done && JSON.stringify(done.data)}`);
  const chunks = since(n).filter((m) => m.type === "chunk_complete");
  check(chunks.length === 2 && chunks[1].data.frames_emitted >= 40, `file run chunks ${JSON.stringify(chunks.map((c) => c.data))}`);
  reactor.sendCommand("reset", {});
  n = messages.length;
  const junk = await reactor.uploadFile(new Blob([Buffer.from("this is not a video at all".repeat(100))], { type: "video/mp4" }), { name: "junk.mp4" });
  reactor.sendCommand("set_video", { video: junk });
  const e = await waitMsg(n, (m) => m.type === "command_error", 5000, "command_error for junk video");
  check(e && e.data.command === "set_video" && e.data.reason.includes("decode failed"), `set_video junk -> ${e && e.data.reason}`);
  // A clip shorter than the first chunk (12 frames, half a second) is edited whole, as `sana edit` does.
  const short = path.join(scratch, "short.webm");
  execFileSync("ffmpeg", ["-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x96:rate=24", "-frames:v", "12",
                          "-c:v", "libvpx", "-pix_fmt", "yuv420p", short]);
  n = messages.length;
  const sref = await reactor.uploadFile(new Blob([fs.readFileSync(short)], { type: "video/webm" }), { name: "short.webm" });
  reactor.sendCommand("set_video", { video: sref });
  const sacc = await waitMsg(n, (m) => m.type === "video_accepted", 5000, "video_accepted (12 frames)");
  check(sacc && sacc.data.num_frames === 12, `a 12-frame clip is accepted ${sacc && JSON.stringify(sacc.data)}`);
  reactor.sendCommand("start", {});
  const sdone = await waitMsg(n, (m) => m.type === "generation_complete", 10000 * slow, "generation_complete (12 frames)");
  const schunks = since(n).filter((m) => m.type === "chunk_complete");
  check(sdone && sdone.data.total_chunks === 1 && schunks.length === 1,
        `the 12-frame clip runs to generation_complete in one chunk ${sdone && JSON.stringify(sdone.data)}`);
  reactor.sendCommand("reset", {});
  fileDone = true;
} catch (err) {
  check(false, `file mode: ${err.stack || err}`);
}

// Reconnect: a recoverable disconnect, then reconnect() sends a new offer by PUT, which replaces
// the peer of the same session; the generation state survives.
await reactor.disconnect(true);
check(reactor.getStatus() === "disconnected" && reactor.getSessionId() === sid, "recoverable disconnect keeps the session id");
n = messages.length;
await reactor.reconnect();
await until(() => reactor.getStatus() === "ready", 20000, "ready after reconnect");
const st2 = await waitMsg(n, (m) => m.type === "state", 3000, "state after reconnect");
check(reactor.getStatus() === "ready" && st2 && st2.data.seed === 1234,
      `reconnect (PUT sdp_params) -> ready, same session state ${st2 && JSON.stringify(st2.data)}`);

// Disconnect: the local stop_session frees the session.
clearInterval(camTimer);
await reactor.disconnect();
r = await fetch(`${api}/health`);
check((await r.json()).sessions === 0, "disconnect -> stop_session freed the session");

// Two live sessions; one client vanishes mid-run (no stop call): the other keeps getting chunks,
// and the abandoned session is freed after the idle timeout.
function liveClient(label, grey) {
  const c = new Reactor({ modelName: "sana-streaming", local: true, apiUrl: api });
  const msgs = [];
  c.on("message", (m) => msgs.push(m));
  const src = new wrtc.nonstandard.RTCVideoSource();
  const timer = setInterval(() => src.onFrame({ width: 320, height: 180, data: new Uint8ClampedArray(320 * 180 * 1.5).fill(grey) }), 1000 / 24);
  return { c, msgs, timer, src, async start() {
    await c.connect();
    await until(() => c.getStatus() === "ready", 20000, `${label} ready`);
    c.publishTrack("camera", src.createTrack());
    c.sendCommand("set_mode", { mode: "live" });
    c.sendCommand("start", {});
  }, id8() { return `session ${c.getSessionId().slice(0, 8)}: `; } };
}
const chunks = (cl) => cl.msgs.filter((m) => m.type === "chunk_complete").length;
const stay = liveClient("staying client", 60), gone = liveClient("vanishing client", 90);
await stay.start();
await gone.start();
await until(() => gone.msgs.some((m) => m.type === "chunk_complete"), 5000 * slow, "vanishing client mid-run");
if (real) await until(() => chunkInFlight(gone.id8()) !== null, 5000 * slow, "a chunk of the vanishing client in flight");
clearInterval(gone.timer);
await gone.c.disconnect(true); // recoverable: closes the peer, sends no stop
r = await fetch(`${api}/health`);
check((await r.json()).sessions === 2, "vanished client: its session is still held right after");
const stayBefore = chunks(stay);
await sleep(7000);
r = await fetch(`${api}/health`);
check((await r.json()).sessions === 1, "vanished client: its session freed after the idle timeout");
await until(() => chunks(stay) >= stayBefore + (real ? 1 : 2), 5000 * slow, "chunks of the staying client");
check(chunks(stay) >= stayBefore + (real ? 1 : 2), `the other session kept generating (${stayBefore} -> ${chunks(stay)} chunks)`);
if (real) {
  // A session freed while its chunk is being computed (DELETE, as a cloud-mode client that
  // leaves): answered at once, the chunk discarded when it ends, the other session unaffected.
  const cut = liveClient("cut client", 120);
  await cut.start();
  const fromC = server.log().length;
  await until(() => chunkInFlight(cut.id8(), fromC) !== null, 8000 * slow, "a chunk of the cut client in flight");
  const k = chunkInFlight(cut.id8(), fromC), markC = server.log().length, t = Date.now();
  r = await fetch(`${api}/sessions/${cut.c.getSessionId()}`, { method: "DELETE" });
  const ms = Date.now() - t, at = logAfter(markC);
  const discarded = `${cut.id8()}chunk ${k} discarded: the run was closed`;
  check(r.status === 200 && k !== null && at.includes(`${cut.id8()}closed`) && !at.includes(discarded),
        `DELETE while chunk ${k} computes -> ${r.status} in ${ms} ms, before the chunk ended`);
  await until(() => logAfter(markC).includes(discarded), 5000 * slow, "the closed session's chunk discarded");
  check(await health() === 1, "the cut session is freed");
  const before = chunks(stay);
  await until(() => chunks(stay) > before, 5000 * slow, "a chunk of the staying client after the cut");
  check(chunks(stay) > before, "the other session keeps generating after the cut");
  clearInterval(cut.timer);
  await cut.c.disconnect(true); // its session is gone: a stop_session would stop the staying one (same address)
}
clearInterval(stay.timer);
await stay.c.disconnect();
r = await fetch(`${api}/start_session`, { method: "POST", body: "{}" });
check(r.status === 200, `server keeps serving: new session -> ${r.status}`);
await fetch(`${api}/stop_session`, { method: "POST" });

// Bearer token: a second server with --token.
const guarded = startServer(["--token", "s3cret"]);
const gapi = await guarded.url;
r = await fetch(`${gapi}/sessions`, { method: "POST", body: "{}" });
check(r.status === 401, `no bearer token -> ${r.status}`);
r = await fetch(`${gapi}/sessions`, { method: "POST", headers: { Authorization: "Bearer s3cret" }, body: "{}" });
check(r.status === 200, `right bearer token -> ${r.status}`);
guarded.p.kill("SIGTERM");

check(!errors.length, `no SDK errors (${errors.map((e) => e.code).join(",")})`);
server.p.kill("SIGTERM");
const code = await new Promise((res) => server.p.on("exit", (c) => res(c)));
check(code === 0, `server exits cleanly on SIGTERM (${code})`);
if (failures) console.log(server.log().split("\n").slice(-60).join("\n"));
console.log(`sdk_node: ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
