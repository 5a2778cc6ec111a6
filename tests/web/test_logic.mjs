// The page's bookkeeping (web/prompts.js, web/metrics.js, web/words.js) on hand-worked
// sequences: what is in effect and pending through the messages of a run, the rates, the prompt
// delay, and the words for errors (from messages in the SDK 2.9.0's own format).
import assert from "node:assert/strict";
import { PromptTracker } from "../../web/prompts.js";
import { RateMeter, PromptDelay } from "../../web/metrics.js";
import { commandError, connectionError, sdkError } from "../../web/words.js";

let n = 0;
const t = (what, fn) => { fn(); n++; console.log(`ok: ${what}`); };

t("a prompt is pending from sending until a chunk uses it", () => {
  const p = new PromptTracker();
  p.sent("a");
  assert.deepEqual([p.active, p.pending], [null, "a"]);
  p.serverCurrent("a"); // state after prompt_accepted
  assert.equal(p.pending, "a");
  assert.equal(p.chunkUsed("a"), true);
  assert.deepEqual([p.active, p.pending], ["a", null]);
  p.serverCurrent("a"); // state at the chunk boundary
  assert.equal(p.pending, null);
});

t("a chunk already running keeps the old prompt; the next one takes the new", () => {
  const p = new PromptTracker();
  p.sent("a");
  p.chunkUsed("a");
  p.sent("b");
  p.serverCurrent("b");
  assert.equal(p.chunkUsed("a"), false);
  assert.deepEqual([p.active, p.pending], ["a", "b"]);
  assert.equal(p.chunkUsed("b"), true);
  assert.deepEqual([p.active, p.pending], ["b", null]);
});

t("two prompts before a boundary: only the last one turns active", () => {
  const p = new PromptTracker();
  p.sent("a");
  p.chunkUsed("a");
  p.sent("b");
  p.sent("c");
  assert.equal(p.pending, "c");
  assert.equal(p.chunkUsed("c"), true);
  assert.deepEqual(p.history, ["c", "b", "a"]);
});

t("the empty prompt is a prompt (none); the server's null is the same", () => {
  const p = new PromptTracker();
  p.sent("a");
  p.chunkUsed("a");
  p.sent("");
  assert.equal(p.pending, "");
  p.serverCurrent(null);
  assert.equal(p.pending, "");
  assert.equal(p.chunkUsed(null), true);
  assert.deepEqual([p.active, p.pending], ["", null]);
  assert.deepEqual(p.history, ["a"]);
});

t("re-sending the prompt in effect leaves nothing pending", () => {
  const p = new PromptTracker();
  p.sent("a");
  p.chunkUsed("a");
  p.sent("a");
  assert.equal(p.pending, null);
});

t("history: most recent first, unique, bounded; kept over a reset", () => {
  const p = new PromptTracker(3);
  for (const x of ["a", "b", "c", "a", "d"]) p.sent(x);
  assert.deepEqual(p.history, ["d", "a", "c"]);
  p.chunkUsed("d");
  p.reset();
  assert.deepEqual([p.active, p.pending, p.history], [null, null, ["d", "a", "c"]]);
});

t("a state before any prompt or chunk changes nothing", () => {
  const p = new PromptTracker();
  p.serverCurrent(null);
  assert.deepEqual([p.active, p.pending], [null, null]);
});

t("rate: counts after the first event over the span (a start mark of 0 frames)", () => {
  const r = new RateMeter(10000);
  r.tick(0, 0);       // generation_started
  r.tick(1500, 33);   // chunk 0
  r.tick(2500, 24);   // chunk 1
  assert.equal(r.rate(2500), (57 * 1000) / 2500); // 22.8 fps
  r.tick(3500, 24);
  assert.equal(r.rate(3600), (81 * 1000) / 3500);
});

t("rate: a burst alone is no rate; old events leave the window", () => {
  const r = new RateMeter(2000);
  r.tick(1000, 24);
  assert.equal(r.rate(1000), null);
  r.tick(1040, 1);
  r.tick(1080, 1);
  assert.equal(r.rate(1080), 2 * 1000 / 80); // 25 fps
  assert.equal(r.rate(3050), null);          // only 1080 is left: one event
  r.tick(5000, 1);
  assert.equal(r.events.length, 1);
  r.clear();
  assert.equal(r.rate(5000), null);
});

t("prompt delay: from sending to the first frame after its chunk", () => {
  const d = new PromptDelay();
  d.promptSent("a", 100);
  assert.equal(d.framePresented(200), null); // no chunk has used it yet
  d.chunkUses("a");
  assert.deepEqual(d.framePresented(1350), { text: "a", ms: 1250 });
  assert.equal(d.framePresented(1400), null); // measured once
  d.chunkUses("b"); // a prompt not sent from here (before the run) is not timed
  assert.equal(d.framePresented(1500), null);
  d.clear(); // a reset: the shown delay belongs to the old run
  assert.equal(d.last, null);
});

t("prompt delay: a prompt overtaken before its chunk is dropped", () => {
  const d = new PromptDelay();
  d.promptSent("a", 0);
  d.promptSent("b", 400);
  d.chunkUses("b");
  assert.deepEqual(d.framePresented(1000), { text: "b", ms: 600 });
  d.chunkUses("a");
  assert.equal(d.framePresented(1100), null);
});

t("errors in words: a command_error, the session limit, a token, anything else", () => {
  assert.equal(commandError("set_video", "decode failed: no video frames in the file"),
               "The server could not use this video: decode failed: no video frames in the file.");
  assert.equal(commandError("frobnicate", "unknown command 'frobnicate'"),
               "The server could not frobnicate: unknown command 'frobnicate'.");
  // Reactor.connect(): createError("CONNECTION_FAILED", `Connection failed: ${error}`) of the
  // local coordinator's Error(`Failed to start session: ${status} ${text}`)
  const busy = 'Connection failed: Error: Failed to start session: 429 {"error":"session limit reached: 1 of 1 sessions in use"}';
  assert.equal(sdkError("CONNECTION_FAILED", busy), "The server is busy (session limit reached: 1 of 1 sessions in use). " +
               "Close the other tab or window that uses it, or start sana serve with a larger --max-sessions.");
  // the server's two 401 reasons (server/http.c check_token)
  assert.equal(connectionError('Error: Failed to start session: 401 {"error":"missing Authorization: Bearer <token>"}'),
               "The server needs a token: open this page as /?token=YOUR_TOKEN.");
  assert.equal(sdkError("CONNECTION_FAILED", 'Connection failed: Error: Failed to create session: 401 {"error":"bearer token rejected"}'),
               "The server did not accept the token in this page's address (?token=...).");
  assert.equal(sdkError("GPU_CONNECTION_ERROR", "Transport connection failed"),
               "The media connection to the server failed: Transport connection failed.");
  assert.equal(sdkError("SOMETHING_NEW", "x"), "Connection problem: x.");
  assert.equal(connectionError("Error: Failed to start session: 500 not json"),
               "Could not connect to the server: Error: Failed to start session: 500 not json.");
});

console.log(`web logic: ${n} passed`);
