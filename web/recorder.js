// Records a MediaStream (the edited video) to a WebM Blob with MediaRecorder.
const TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];

export class EditRecorder {
  constructor() {
    this.rec = null;
    this.parts = [];
    this.t0 = 0;
  }
  get recording() {
    return !!this.rec && this.rec.state === "recording";
  }
  start(stream) {
    const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    if (!mimeType) throw new Error("this browser cannot record WebM");
    this.parts = [];
    this.rec = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: 4e6 });
    this.rec.ondataavailable = (e) => { if (e.data && e.data.size) this.parts.push(e.data); };
    this.rec.start(1000); // a part every second, so a long recording is not one huge buffer at stop
    this.t0 = performance.now();
  }
  // Resolves to {blob, seconds}.
  stop() {
    const rec = this.rec;
    this.rec = null;
    if (!rec) return Promise.resolve(null);
    const seconds = (performance.now() - this.t0) / 1000;
    return new Promise((resolve) => {
      rec.onstop = () => resolve({ blob: new Blob(this.parts, { type: "video/webm" }), seconds });
      rec.stop();
    });
  }
}
