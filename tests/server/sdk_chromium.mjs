// Conformance of `sana serve` with the real SDK 2.9.0 in headless Chromium (Debian `chromium`,
// driven by playwright-core), for H.264 and VP8 in both directions, against the server over
// the engine TEST DOUBLE. The page and its esbuild bundle are served by the server itself
// (same origin); the camera is Chromium's fake device reading a .y4m made here by ffmpeg.
//
// usage: node sdk_chromium.mjs <sana_serve_double> <node_modules dir> <scratch dir>
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { findChromium, launchChromium } from "./chromium.mjs";
import { fileURLToPath } from "node:url";

const [bin, nodeModules, scratch] = process.argv.slice(2).map((a) => path.resolve(a));
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(nodeModules, "x.js"));
const W = 320, H = 192;
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
execFileSync("ffmpeg", ["-y", "-loglevel", "error", "-f", "lavfi", "-i", `testsrc=size=${W}x${H}:rate=24`, "-t", "2",
                        "-pix_fmt", "yuv420p", y4m]);
const weights = path.join(scratch, "weights");
fs.mkdirSync(weights, { recursive: true });

function startServer(codecs) {
  const p = spawn(bin, ["--weights", weights, "--port", "0", "--size", `${W}x${H}`, "--codecs", codecs, "--web", web],
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
  const log = await page.evaluate(({ w, h }) => window.runConformance({ width: w, height: h }), { w: W, h: H });
  for (const c of log) check(c.ok, `[${codec}] ${c.what} ${c.detail}`);
  check(server.log().includes(`sending ${wire} on mid`), `[${codec}] the server negotiated ${wire}`);
  await page.close();
  server.p.kill("SIGTERM");
  const code = await new Promise((res) => server.p.on("exit", (c) => res(c)));
  check(code === 0, `[${codec}] server exits cleanly (${code})`);
  if (failures) console.log(server.log().split("\n").slice(-40).join("\n"));
}
await browser.close();
console.log(`sdk_chromium: ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
