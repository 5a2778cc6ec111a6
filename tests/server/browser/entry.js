// Page side of the Chromium conformance test: the real SDK (bundled by esbuild with
// NODE_ENV=production) driven through a live run. window.runConformance() resolves to a log of
// {what, ok, detail} checks that the Node driver asserts on.
import { Reactor } from "@reactor-team/js-sdk";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The SDK's peer connection, kept for getStats (the SDK does not expose it), and a receive-side
// encoded transform on main_video (WebRTC Encoded Transform, in a worker) that passes the frames
// through and, when told, asks the server for a keyframe (sendKeyFrameRequest: a PLI on the wire).
const peers = [];
const keyWorker = new Worker(URL.createObjectURL(new Blob([`
  let transformer = null;
  self.onrtctransform = (e) => {
    transformer = e.transformer;
    transformer.readable.pipeTo(transformer.writable);
  };
  self.onmessage = async () => {
    let error = transformer ? null : "no transform yet";
    if (transformer) await transformer.sendKeyFrameRequest().catch((x) => { error = String(x); });
    postMessage(error);
  };
`], { type: "text/javascript" })));
const requestKeyframe = () => new Promise((resolve) => {
  keyWorker.onmessage = (e) => resolve(e.data);
  keyWorker.postMessage("request");
});
const NativePC = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const pc = new NativePC(...args);
  peers.push(pc);
  pc.addEventListener("track", (e) => {
    if (e.track.kind === "video" && window.RTCRtpScriptTransform) e.receiver.transform = new RTCRtpScriptTransform(keyWorker, {});
  });
  return pc;
};
window.RTCPeerConnection.prototype = NativePC.prototype;
async function inboundVideo() {
  for (const pc of peers.slice().reverse())
    for (const r of (await pc.getStats()).values()) if (r.type === "inbound-rtp" && r.kind === "video") return r;
  return null;
}

// slow: how much longer the engine's chunks may take than the test double's (the real engine on
// the CPU); every wait below is an upper bound scaled by it.
window.runConformance = async function ({ width, height, slow = 1 }) {
  const log = [];
  const check = (ok, what, detail) => log.push({ ok: !!ok, what, detail: detail === undefined ? "" : String(detail) });
  const messages = [];
  const until = async (pred, ms) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) { const v = await pred(); if (v) return v; await sleep(20); }
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
    const ready = await until(() => reactor.getStatus() === "ready", 20000);
    check(ready, "connect -> ready", `${Date.now() - t0} ms`);

    // The fake camera (a 320x192 .y4m) is not the served size: the server rescales it.
    const cam = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 192, frameRate: 24 } });
    const track = cam.getVideoTracks()[0];
    track.contentHint = "detail";
    await reactor.publishTrack("camera", track);

    let n = messages.length;
    reactor.sendCommand("set_mode", { mode: "live" });
    reactor.sendCommand("set_prompt", { prompt: "neon city" });
    reactor.sendCommand("start", {});
    check(await waitMsg(n, (m) => m.type === "generation_started", 4000), "generation_started");
    const c1 = await waitMsg(n, (m) => m.type === "chunk_complete", 8000 * slow);
    check(c1 && c1.data.active_prompt === "neon city", "chunk_complete with the prompt", JSON.stringify(c1 && c1.data));
    await until(() => rendered > 24, 5000 * slow);
    check(rendered > 24, "main_video frames rendered", `${rendered} (video readyState ${video.readyState}, track ${
      mainTrack && mainTrack.readyState} muted=${mainTrack && mainTrack.muted})`);
    check(video.videoWidth === width && video.videoHeight === height, "main_video at the served size",
          `${video.videoWidth}x${video.videoHeight}`);
    // Keyframes on request: the server runs with periodic keyframes off, so every keyframe after
    // the first answers a request; three requests, each answered within a second.
    check(!!window.RTCRtpScriptTransform, "this Chromium has RTCRtpScriptTransform (to request keyframes)");
    const k0 = (await inboundVideo()).keyFramesDecoded;
    let answered = 0, error = null, inb = null;
    for (let i = 0; i < 3; i++) {
      const before = (await inboundVideo()).keyFramesDecoded;
      error = error || await requestKeyframe();
      inb = await until(async () => { const r = await inboundVideo(); return r.keyFramesDecoded > before ? r : null; }, 1000 * slow);
      if (inb) answered++;
      await sleep(200);
    }
    inb = await inboundVideo();
    check(answered === 3 && inb.pliCount + inb.firCount >= 3, "keyframe requests (PLI/FIR) each get a keyframe",
          `${answered} of 3 answered${error ? " (" + error + ")" : ""}; keyframes decoded ${k0} -> ${
            inb.keyFramesDecoded} of ${inb.framesDecoded} frames; pli ${inb.pliCount}, fir ${inb.firCount}`);

    n = messages.length;
    reactor.sendCommand("set_prompt", { prompt: "charcoal drawing" });
    await waitMsg(n, (m) => m.type === "prompt_accepted", 3000);
    n = messages.length;
    // A chunk already being computed keeps the old prompt (the Node test proves which one from the
    // server log); the one after it must carry the new prompt.
    let c2 = await waitMsg(n, (m) => m.type === "chunk_complete", 6000 * slow);
    if (c2 && c2.data.active_prompt !== "charcoal drawing")
      c2 = await waitMsg(messages.indexOf(c2) + 1, (m) => m.type === "chunk_complete", 6000 * slow);
    check(c2 && c2.data.active_prompt === "charcoal drawing", "mid-stream set_prompt -> next chunk_complete",
          JSON.stringify(c2 && c2.data));

    // The camera changes resolution mid-stream (Chromium rescales the track): chunks go on, the
    // received main_video keeps the served size.
    await track.applyConstraints({ width: 160, height: 96 });
    const settings = track.getSettings();
    n = messages.length;
    let c3 = null;
    for (let k = 0; k < 2; k++) c3 = await waitMsg(c3 ? messages.indexOf(c3) + 1 : n, (m) => m.type === "chunk_complete", 6000 * slow);
    check(c3 && settings.width === 160 && settings.height === 96, "camera resized mid-stream -> chunks go on",
          `camera now ${settings.width}x${settings.height}, ${JSON.stringify(c3 && c3.data)}`);
    check(video.videoWidth === width && video.videoHeight === height, "main_video keeps the served size",
          `${video.videoWidth}x${video.videoHeight}`);

    n = messages.length;
    reactor.sendCommand("pause", {});
    check(await waitMsg(n, (m) => m.type === "state" && m.data.paused === true, 3000), "pause -> state paused");
    n = messages.length;
    reactor.sendCommand("resume", {});
    check(await waitMsg(n, (m) => m.type === "chunk_complete", 6000 * slow), "resume -> chunks again");
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
