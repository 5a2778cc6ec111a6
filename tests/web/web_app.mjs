// The web app (web/) in headless Debian Chromium (playwright-core), driven as a person would,
// against `sana serve` on the tiny random model: the page the server finds next to its binary
// (no --web), Chromium's fake camera reading a .y4m made here by ffmpeg. Asserts on what the
// page shows and writes a screenshot of each state into the shots dir.
//
// usage: node web_app.mjs <sana> <tiny model dir> <node_modules dir> <scratch dir> <shots dir>
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { findChromium, launchChromium } from "../server/chromium.mjs";

const [bin, weights, nodeModules, scratch, shots] = process.argv.slice(2).map((a) => path.resolve(a));
const require = createRequire(path.join(nodeModules, "x.js"));
const W = 128, H = 64; // the served size: small, so that the CPU runs the tiny model in real time
let failures = 0, checks = 0;
const check = (cond, what) => {
  checks++;
  if (!cond) failures++;
  console.log(`${cond ? "ok" : "FAIL"}: ${what}`);
  return !!cond;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

const chromium = findChromium();
fs.rmSync(scratch, { recursive: true, force: true });
fs.mkdirSync(scratch, { recursive: true });
fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
const ffmpeg = (...a) => execFileSync("ffmpeg", ["-y", "-loglevel", "error", ...a]);
const y4m = path.join(scratch, "cam.y4m");
ffmpeg("-f", "lavfi", "-i", `testsrc=size=${W}x${H}:rate=24`, "-t", "2", "-pix_fmt", "yuv420p", y4m);
const clip = path.join(scratch, "clip.mp4"); // 48 frames: two chunks (33 + a padded 15)
ffmpeg("-f", "lavfi", "-i", `testsrc2=size=${W}x${H}:rate=24`, "-t", "2", "-pix_fmt", "yuv420p", clip);
const junk = path.join(scratch, "junk.mp4"); // not a video: the server refuses it
fs.writeFileSync(junk, "this is not a video at all\n".repeat(100));

// ---- the server ----
let serverLog = "";
function startServer(port, ...extra) {
  const p = spawn(bin, ["serve", "--weights", weights, "--port", String(port), "--size", `${W}x${H}`, "--backend", "cpu", ...extra],
                  { stdio: ["ignore", "pipe", "pipe"],
                    env: { ...process.env, OPENBLAS_NUM_THREADS: "1",
                           ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ""}:fast_unwind_on_malloc=0` } });
  let out = "";
  p.stderr.on("data", (d) => { serverLog += d; });
  p.stdout.on("data", (d) => { out += d; serverLog += d; });
  const url = new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) { clearInterval(t); resolve(m[1]); }
    }, 20);
    p.on("exit", (code) => { clearInterval(t); reject(new Error(`server exited with ${code}:\n${serverLog}`)); });
  });
  return { p, url, out: () => out };
}
const stopServer = (s) => new Promise((res) => { s.p.on("exit", (c) => res(c)); s.p.kill("SIGTERM"); });

let server = startServer(0);
const url = await server.url;
const port = Number(url.split(":").pop());
check(server.out().includes(`web app from ${path.join(path.dirname(bin), "web")}`),
      "sana serve finds the built app next to its binary without --web");

// ---- the browser ----
const browser = await launchChromium(require("playwright-core"), chromium, y4m);
const context = await browser.newContext({ viewport: { width: 1280, height: 704 }, acceptDownloads: true });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
const snap = () => page.evaluate(() => window.sanaApp.snapshot());
const text = (sel) => page.locator(sel).innerText();
async function until(pred, ms, what) {
  const t0 = Date.now();
  let v;
  while (Date.now() - t0 < ms) {
    v = await pred();
    if (v) return v;
    await sleep(50);
  }
  console.log(`  (gave up waiting ${ms} ms for ${what})`);
  return null;
}
const shot = async (name, what) => {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  console.log(`  screenshot ${name}.png at ${elapsed()}: ${what}`);
};
const errorsShown = () => page.locator("#errors").innerText();

try {
  // 1. loads, connects, shows the camera
  await page.goto(url + "/");
  check((await page.title()).includes("SANA-Streaming"), "the page loads from /");
  check(await until(async () => (await text("#conn")) === "ready", 15000, "ready"), "the page connects (status ready)");
  check(await until(async () => (await snap()).counters.sourceFrames > 10, 8000, "camera frames"),
        "the camera plays in the source pane");
  let s = await snap();
  check(s.sourceSize[0] === W && s.sourceSize[1] === H, `the camera opens at the served size (${s.sourceSize})`);
  check(await page.locator("#start").isEnabled(), "Start is enabled once connected with a camera");
  await shot("01-connected", "connected, camera in the source pane, nothing edited yet");

  // 2. start: both videos play
  await page.click("#start");
  check(await until(async () => (await snap()).run.chunk >= 1, 20000, "two chunks"), "Start runs chunks");
  check(await until(async () => (await snap()).counters.editedFrames > 48, 10000, "edited frames"),
        "the edited video plays");
  s = await snap();
  check(s.editedSize[0] === W && s.editedSize[1] === H, `the edited video is at the served size (${s.editedSize})`);
  const boxes = await page.evaluate(() => ["#source-video", "#edited-video"].map((q) => {
    const r = document.querySelector(q).getBoundingClientRect();
    return [r.width, r.height, r.top];
  }));
  check(boxes[0][0] === boxes[1][0] && boxes[0][1] === boxes[1][1] && boxes[0][2] === boxes[1][2] && boxes[0][0] > 500,
        `source and edit side by side at the same size (${JSON.stringify(boxes)})`);
  check(await text("#run-state") === "running", "the run state reads running");
  check(await until(async () => /^\d+\.\d$/.test(await text("#video-fps")) && /^\d+\.\d$/.test(await text("#edit-fps")),
                    12000, "fps"), `fps shown (video ${await text("#video-fps")}, edit ${await text("#edit-fps")})`);
  await shot("02-running", "both videos playing, chunk index and fps");

  // 3. a typed prompt (keyboard only) becomes active at the next chunk boundary
  await page.keyboard.press("/");
  check(await page.evaluate(() => document.activeElement.id) === "prompt-input", "/ focuses the prompt box");
  await page.keyboard.type("neon city");
  s = await snap();
  await page.keyboard.press("Enter");
  check(await text("#pending-prompt") === "neon city" && await text("#active-prompt") !== "neon city",
        "after Enter the prompt shows as pending, not yet in effect");
  await shot("03-pending", "'neon city' pending while the previous prompt is in effect");
  check(await until(async () => (await text("#active-prompt")) === "neon city", 20000, "active prompt"),
        "the pending prompt turns active");
  s = await snap();
  const sw = s.switches.find((x) => x.prompt === "neon city");
  // j: the last chunk_complete before prompt_accepted. The prompt lands on the next chunk to
  // start: j+1, or j+2 when j+1 was already running, or (rarely) j+3 when the worker had also
  // started j+2 while j+1's completion still queued behind the prompt on the server's loop.
  const j = s.acceptedAfter["neon city"];
  check(sw && Number.isInteger(j) && sw.chunk >= j + 1 && sw.chunk <= j + 3,
        `... at the next chunk boundary (accepted after chunk ${j}, active from chunk ${sw && sw.chunk})`);
  check(await text("#pending-prompt") === "–", "nothing pending any more");
  check(await until(async () => /^\d+\.\d\d s$/.test(await text("#prompt-delay")), 5000, "delay"),
        `the prompt delay is shown (${await text("#prompt-delay")})`);
  await shot("04-prompt-active", "'neon city' in effect, prompt delay measured, history entry");

  // an example edit (its history entry is used again in the file run below)
  await page.click(".chip >> text=make it snow");
  check(await until(async () => (await text("#active-prompt")) === "make it snow", 20000, "example"), "an example edit applies");

  // 4. record the edit, download it
  await page.click("#record");
  check(await page.locator("#record-dot").isVisible(), "recording shows REC");
  await sleep(2500);
  await page.click("#record");
  await page.locator("#download").waitFor({ state: "visible", timeout: 5000 });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const rec = path.join(scratch, "recording.webm");
  await download.saveAs(rec);
  const bytes = fs.readFileSync(rec);
  check(bytes.length > 0 && bytes.readUInt32BE(0) === 0x1a45dfa3, `the recording downloads as WebM (${bytes.length} bytes, ${download.suggestedFilename()})`);
  let probe = "";
  try {
    probe = execFileSync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                     "stream=width,height,nb_read_frames", "-of", "csv=p=0", rec]).toString().trim();
  } catch (e) { probe = String(e); }
  const [pw_, ph_, pn] = probe.split(",").map(Number);
  check(pw_ === W && ph_ === H && pn > 10, `the recording decodes: ${probe} (width,height,frames)`);
  await shot("05-recorded", "download link of the recording");

  // 5. pause (Space) and resume (button)
  await page.keyboard.press("Escape");
  await page.locator("body").focus();
  await page.keyboard.press("Space");
  check(await until(async () => (await text("#run-state")) === "paused", 5000, "paused"), "Space pauses (run state paused)");
  // the chunk already running when the pause came still finishes; none may follow it
  const c0 = (await snap()).counters.chunks;
  await sleep(6000);
  const cp = (await snap()).counters.chunks;
  check(cp - c0 <= 1, `no chunks while paused but the one already running (${cp - c0} in 6 s)`);
  check(await text("#pause") === "Resume", "the pause button now reads Resume");
  await shot("06-paused", "paused");
  await page.click("#pause");
  check(await until(async () => (await snap()).counters.chunks > cp, 15000, "chunks after resume"), "Resume runs chunks again");
  check(await text("#run-state") === "running", "the run state reads running again");

  // a dropped connection (as the SDK handles one): said plainly; Reconnect rejoins the same
  // session with a new peer (PUT sdp_params) and the run goes on
  const sid = (await snap()).sessionId;
  await page.evaluate(() => window.sanaApp.dropConnection());
  check(await until(async () => /connection to the server was lost/.test(await errorsShown()), 5000, "lost message"),
        `a dropped connection is shown: "${(await errorsShown()).trim()}"`);
  await page.click("#reconnect");
  check(await until(async () => (await text("#conn")) === "ready", 15000, "ready again"), "Reconnect rejoins");
  s = await snap();
  check(s.sessionId === sid && s.run.running, `... the same session (${sid}), still running`);
  const c1 = s.counters.chunks;
  check(await until(async () => (await snap()).counters.chunks > c1, 15000, "chunks after rejoin"), "... and chunks keep coming");

  // 6. reset
  await page.click("#reset");
  check(await until(async () => (await text("#run-state")) === "idle", 5000, "idle"), "Reset returns to idle");
  check(await text("#chunk") === "–" && await text("#active-prompt") === "(none yet)" &&
        await page.inputValue("#prompt-input") === "", "Reset clears the chunk and the prompt (as the server does)");
  check((await snap()).history.includes("neon city"), "the history survives a reset");
  await page.focus("#seed");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("7");
  await page.keyboard.press("Enter");
  check(await until(async () => (await snap()).seed === 7, 5000, "seed"), "the seed is sent and the server's state reports it (7)");

  // 7. a server-side command_error: a file that is not a video
  await page.check('input[name="source"][value="file"]');
  await until(() => page.locator("#file-input").isEnabled(), 3000, "file input");
  await page.setInputFiles("#file-input", junk);
  check(await until(async () => /could not use this video: decode failed/.test(await errorsShown()),
                    15000, "command_error"), `the server's command_error is shown: "${(await errorsShown()).trim()}"`);
  check(!(await page.locator("#start").isEnabled()), "Start stays disabled without an accepted video");
  await shot("07-command-error", "the server refused a file that is not a video; the message in plain words");
  await page.click("#errors >> text=Dismiss");

  // 8. a file upload runs to generation_complete
  await page.setInputFiles("#file-input", clip);
  check(await until(() => page.locator("#start").isEnabled(), 15000, "video accepted"), "the uploaded clip is accepted (Start enabled)");
  check((await text("#events")).includes("video accepted: 128x64, 48 frames"), "video_accepted is reported");
  await page.click("#history >> text=make it snow"); // a prompt staged before the start, from the history
  check(await text("#pending-prompt") === "make it snow", "a history entry clicked before Start is pending");
  await page.click("#start");
  check(await until(async () => (await text("#run-state")) === "complete", 30000, "complete"), "the file runs to generation_complete");
  const events = await text("#events");
  check(events.includes("generation complete: 2 chunks"), "the page reports the chunk total (2)");
  check(events.includes('generation started with "make it snow"') && await text("#active-prompt") === "make it snow",
        "the staged prompt is the one the file was edited with");
  check((await snap()).counters.chunks > 0 && !(await page.locator("#pause").isEnabled()), "Pause is disabled once complete");
  await shot("08-file-complete", "the uploaded clip edited to the end");

  // 9. a second tab while the only session is in use: told why, and the first one keeps it
  const page2 = await context.newPage();
  await page2.goto(url + "/");
  const busy = await until(async () => {
    const t = await page2.locator("#errors").innerText();
    return /server is busy \(session limit reached: 1 of 1 sessions in use\)/.test(t) && t;
  }, 10000, "busy");
  check(busy, `a second tab is told the server is busy: "${(busy || "").trim()}"`);
  await page2.screenshot({ path: path.join(shots, "09-busy.png") });
  console.log(`  screenshot 09-busy.png at ${elapsed()}: a second tab while the single session is in use`);
  await page2.close();
  await sleep(500);
  check(await text("#conn") === "ready" && (await (await fetch(url + "/health")).json()).sessions === 1,
        "the first tab keeps its session");

  // 10. small screens: one column, nothing wider than the screen
  await page.setViewportSize({ width: 400, height: 860 });
  await sleep(300);
  const fit = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth,
    ...["#source-video", "#edited-video"].map((q) => Math.round(document.querySelector(q).getBoundingClientRect().width))]);
  check(fit[0] <= fit[1] && fit[2] === fit[3] && fit[2] > 300, `scales down to 400 px wide (${fit})`);
  await shot("10-small-screen", "400 px wide: the panes stack");
  await page.setViewportSize({ width: 1280, height: 704 });

  // 11. the server goes away: said plainly, Reconnect brings the page back
  check(await stopServer(server) === 0, "the server exits cleanly on SIGTERM");
  check(await until(async () => /stopped answering|connection to the server was lost/.test(await errorsShown()), 10000, "lost"),
        `losing the server is shown: "${(await errorsShown()).trim()}"`);
  check(await page.locator("#reconnect").isVisible(), "a Reconnect button appears");
  await shot("11-connection-lost", "server stopped: message and Reconnect button");
  server = startServer(port);
  await server.url;
  await page.click("#reconnect");
  check(await until(async () => (await text("#conn")) === "ready", 20000, "ready again"), "Reconnect connects again");
  check(await until(async () => !(await errorsShown()).includes("stopped answering"), 3000, "error cleared"),
        "the connection message goes away");

  // 12. a reload ends the old session at once: one session allowed, and the new page gets it
  await page.reload();
  check(await until(async () => (await text("#conn")) === "ready", 15000, "ready after reload"),
        "a reload connects again (the old session was ended on pagehide)");

  // leaving the page ends its session on the server (then the server shuts down with no peer
  // half-closed by a vanished browser)
  await page.goto("about:blank");
  check(await until(async () => (await (await fetch(url + "/health")).json()).sessions === 0, 5000, "session ended"),
        "leaving the page ends its session");
  check(await stopServer(server) === 0, "server exits cleanly");

  // 13. a server with --token: the page itself loads without it and asks for ?token=
  server = startServer(port, "--token", "s3cret");
  await server.url;
  const needs = async (query, re, what) => {
    await page.goto(`${url}/${query}`);
    const t = await until(async () => { const e = await errorsShown(); return re.test(e) && e; }, 10000, what);
    check(t, `${what}: "${(t || "").trim()}"`);
  };
  await needs("", /needs a token: open this page as \/\?token=/, "without a token the page says how to give one");
  await needs("?token=wrong", /did not accept the token/, "a wrong token is said to be wrong");
  await page.goto(`${url}/?token=s3cret`);
  check(await until(async () => (await text("#conn")) === "ready", 15000, "ready with token"), "with ?token= the page connects");
  await page.goto("about:blank");
  check(await until(async () => (await (await fetch(url + "/health")).json()).sessions === 0, 5000, "token session ended"),
        "... and leaving ends the session (the DELETE carries the token)");
} catch (e) {
  check(false, `exception: ${e && e.stack || e}`);
}
check(pageErrors.length === 0, `no uncaught page errors ${pageErrors.join(" | ")}`);
await browser.close();
const code = await stopServer(server);
check(code === 0, `the --token server exits cleanly (${code})`);
fs.writeFileSync(path.join(scratch, "server.log"), serverLog);
if (failures) console.log(serverLog.split("\n").slice(-40).join("\n"), `\n(whole server log: ${scratch}/server.log)`);
console.log(`web_app: ${checks - failures} passed, ${failures} failed in ${elapsed()}; screenshots in ${shots}`);
process.exit(failures ? 1 : 0);
