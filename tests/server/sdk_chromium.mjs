// Conformance of `sana serve` with the real SDK 2.9.0 in headless Chromium (Debian `chromium`,
// driven by playwright-core), for H.264 and VP8 in both directions. The page and its esbuild
// bundle are served by the server itself (same origin); the camera is Chromium's fake device
// reading a .y4m made here by ffmpeg.
//
// usage: node sdk_chromium.mjs <sana_serve_double> <node_modules dir> <scratch dir>   (engine test double)
//        node sdk_chromium.mjs <sana> <node_modules dir> <scratch dir> --real <weights dir> [--size WxH]
//        (`sana serve`, the real engine on the tiny random model on the CPU)
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { findChromium, launchChromium } from "./chromium.mjs";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const [bin, nodeModules, scratch] = argv.slice(0, 3).map((a) => path.resolve(a));
const flag = (name) => { const i = argv.indexOf(name); return i > 0 ? argv[i + 1] : undefined; };
const real = flag("--real");
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(nodeModules, "x.js"));
const [W, H] = (flag("--size") || (real ? "64x64" : "320x192")).split("x").map(Number);
const slow = real ? 8 : 1; // waits are bounds: the real engine's chunks take seconds on a loaded CPU
let failures = 0, checks = 0;
const check = (cond, what) => {
  checks++;
  if (!cond) failures++;
  console.log(`${cond ? "ok" : "FAIL"}: ${what}`);
};

const chromium = findChromium();

// Page + bundle (NODE_ENV=production keeps the SDK's ready guard, reactor-protocol.md §13.3).
const web = path.join(scratch, "web");
fs.mkdirSync(web, { recursive: true });
require("esbuild").buildSync({
  entryPoints: [path.join(here, "browser/entry.js")], bundle: true, format: "iife", outfile: path.join(web, "bundle.js"),
  define: { "process.env.NODE_ENV": '"production"' }, nodePaths: [nodeModules], logLevel: "error",
});
fs.copyFileSync(path.join(here, "browser/index.html"), path.join(web, "index.html"));
const y4m = path.join(scratch, "cam.y4m");
execFileSync("ffmpeg", ["-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x192:rate=24", "-t", "2",
                        "-pix_fmt", "yuv420p", y4m]);
const weights = real ? path.resolve(real) : path.join(scratch, "weights");
fs.mkdirSync(weights, { recursive: true });

function startServer(codecs) {
  // Periodic keyframes off: every keyframe after the first answers a request (see entry.js).
  const p = spawn(bin, [...(real ? ["serve", "--backend", "cpu"] : []), "--weights", weights, "--port", "0",
                        "--size", `${W}x${H}`, "--codecs", codecs, "--web", web, "--keyframe-interval", "1000000"],
                  { stdio: ["ignore", "pipe", "pipe"],
                    env: { ...process.env, ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ""}:fast_unwind_on_malloc=0` } });
  let log = "";
  p.stderr.on("data", (d) => { log += d; });
  const url = new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d) => { out += d; const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/); if (m) resolve(m[1]); });
    p.on("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { p, url, log: () => log };
}

const browser = await launchChromium(require("playwright-core"), chromium, y4m);
for (const [codec, wire] of [["h264", "H264"], ["vp8", "VP8"]]) {
  const server = startServer(codec);
  const url = await server.url;
  const page = await browser.newPage();
  await page.goto(url + "/");
  const log = await page.evaluate(({ w, h, s }) => window.runConformance({ width: w, height: h, slow: s }),
                                 { w: W, h: H, s: slow });
  for (const c of log) check(c.ok, `[${codec}] ${c.what} ${c.detail}`);
  check(server.log().includes(`sending ${wire} on mid`), `[${codec}] the server negotiated ${wire}`);
  check(server.log().includes("the client asked for a keyframe"), `[${codec}] the server saw the keyframe request`);
  await page.close();
  server.p.kill("SIGTERM");
  const code = await new Promise((res) => server.p.on("exit", (c) => res(c)));
  check(code === 0, `[${codec}] server exits cleanly (${code})`);
  if (failures) console.log(server.log().split("\n").slice(-40).join("\n"));
}
await browser.close();
console.log(`sdk_chromium: ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
