// Rates and delays measured in the page (times in ms from performance.now()).

// Events per second over a sliding window: the count after the first event in the window
// divided by the time it spans, so a burst (24 frames of one chunk) is not a rate.
export class RateMeter {
  constructor(windowMs) {
    this.windowMs = windowMs;
    this.events = []; // [t, n]
  }
  tick(t, n = 1) {
    this.events.push([t, n]);
    while (this.events.length && this.events[0][0] < t - this.windowMs) this.events.shift();
  }
  rate(now) {
    const ev = this.events.filter(([t]) => t >= now - this.windowMs);
    if (ev.length < 2) return null;
    const span = ev[ev.length - 1][0] - ev[0][0];
    if (span <= 0) return null;
    let n = 0;
    for (let i = 1; i < ev.length; i++) n += ev[i][1];
    return (n * 1000) / span;
  }
  clear() {
    this.events = [];
  }
}

// The delay from sending a prompt to the first edited frame shown with it: armed when the
// prompt is sent, moved to "waiting for a frame" when the chunk_complete naming it arrives,
// finished by the next presented frame of the edited video.
export class PromptDelay {
  constructor() {
    this.sent = new Map(); // prompt text -> send time
    this.waiting = null;   // {text, t0}
    this.last = null;      // {text, ms}
  }
  promptSent(text, t) {
    this.sent.set(text, t);
  }
  chunkUses(text) {
    const t0 = this.sent.get(text);
    if (t0 === undefined) return;
    this.sent.clear(); // older prompts were overtaken
    this.waiting = { text, t0 };
  }
  framePresented(t) {
    if (!this.waiting) return null;
    this.last = { text: this.waiting.text, ms: t - this.waiting.t0 };
    this.waiting = null;
    return this.last;
  }
  clear() {
    this.sent.clear();
    this.waiting = null;
    this.last = null;
  }
}
