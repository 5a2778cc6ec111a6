// Page side of the Chromium conformance test: the real SDK (bundled by esbuild with
// NODE_ENV=production) driven through a live run. window.runConformance() resolves to a log of
// {what, ok, detail} checks that the Node driver asserts on.
import { Reactor } from "@reactor-team/js-sdk";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

window.runConformance = async function ({ width, height }) {
  const log = [];
  const check = (ok, what, detail) => log.push({ ok: !!ok, what, detail: detail === undefined ? "" : String(detail) });
  const messages = [];
  const until = async (pred, ms) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) { const v = pred(); if (v) return v; await sleep(20); }
    return null;
  };
  const waitMsg = (from, pred, ms) => until(() => messages.slice(from).find(pred), ms);
  try {
    const reactor = new Reactor({ modelName: "sana-streaming", local: true, apiUrl: location.origin });
    reactor.on("message", (m) => messages.push(m));
    const video = document.createElement("video");
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.appendChild(video);
    let rendered = 0, mainTrack = null;
    const onFrame = () => { rendered++; video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
    reactor.on("trackReceived", (name, track, stream) => {
      if (name !== "main_video") return;
      mainTrack = track;
      video.srcObject = stream;
      video.play().catch((e) => check(false, "video.play", e));
    });

    const t0 = Date.now();
    await reactor.connect();
    const ready = await until(() => reactor.getStatus() === "ready", 10000);
    check(ready, "connect -> ready", `${Date.now() - t0} ms`);

    const cam = await navigator.mediaDevices.getUserMedia({ video: { width, height, frameRate: 24 } });
    const track = cam.getVideoTracks()[0];
    track.contentHint = "detail";
    await reactor.publishTrack("camera", track);

    let n = messages.length;
    reactor.sendCommand("set_mode", { mode: "live" });
    reactor.sendCommand("set_prompt", { prompt: "neon city" });
    reactor.sendCommand("start", {});
    check(await waitMsg(n, (m) => m.type === "generation_started", 4000), "generation_started");
    const c1 = await waitMsg(n, (m) => m.type === "chunk_complete", 8000);
    check(c1 && c1.data.active_prompt === "neon city", "chunk_complete with the prompt", JSON.stringify(c1 && c1.data));
    await until(() => rendered > 24, 5000);
    check(rendered > 24, "main_video frames rendered", `${rendered} (video readyState ${video.readyState}, track ${
      mainTrack && mainTrack.readyState} muted=${mainTrack && mainTrack.muted})`);
    check(video.videoWidth === width && video.videoHeight === height, "main_video at the served size",
          `${video.videoWidth}x${video.videoHeight}`);

    n = messages.length;
    reactor.sendCommand("set_prompt", { prompt: "charcoal drawing" });
    await waitMsg(n, (m) => m.type === "prompt_accepted", 3000);
    n = messages.length;
    const c2 = await waitMsg(n, (m) => m.type === "chunk_complete", 6000);
    check(c2 && c2.data.active_prompt === "charcoal drawing", "mid-stream set_prompt -> next chunk_complete",
          JSON.stringify(c2 && c2.data));

    n = messages.length;
    reactor.sendCommand("pause", {});
    check(await waitMsg(n, (m) => m.type === "state" && m.data.paused === true, 3000), "pause -> state paused");
    n = messages.length;
    reactor.sendCommand("resume", {});
    check(await waitMsg(n, (m) => m.type === "chunk_complete", 6000), "resume -> chunks again");
    n = messages.length;
    reactor.sendCommand("reset", {});
    check(await waitMsg(n, (m) => m.type === "generation_reset", 3000), "reset -> generation_reset");
    await reactor.disconnect();
    check(reactor.getStatus() === "disconnected", "disconnect");
  } catch (e) {
    check(false, "exception", e && e.stack || e);
  }
  return log;
};
