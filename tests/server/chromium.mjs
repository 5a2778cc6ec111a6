// Headless Debian Chromium for the browser tests (reactor-protocol.md §13.2): a fake camera
// reading a .y4m, loopback ICE candidates, no background traffic.
import fs from "node:fs";

// Debian's binary; exits with CTest's skip code (77) when it is not installed.
export function findChromium() {
  const found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));
  if (!found) {
    console.log("SKIP: no Debian chromium installed (tools/deps/server.apt)");
    process.exit(77);
  }
  return found;
}

export function launchChromium(playwright, executablePath, y4m) {
  return playwright.chromium.launch({
    executablePath, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
           "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${y4m}`,
           "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
           "--autoplay-policy=no-user-gesture-required"],
  });
}
