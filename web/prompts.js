// The prompt in effect, the one pending and the history. The server's `state.current_prompt`
// is the latest prompt it accepted; `chunk_complete.active_prompt` is the one the chunk used.
// A prompt is pending from when it is sent until a chunk uses it. "" stands for no prompt.
const norm = (p) => (typeof p === "string" ? p : "");

export class PromptTracker {
  constructor(maxHistory = 12) {
    this.active = null;  // null until a chunk has run
    this.pending = null; // null: nothing pending; else the text (may be "")
    this.history = [];   // most recent first, unique
    this.maxHistory = maxHistory;
  }
  sent(text) {
    this.pending = text === this.active ? null : text;
    if (text) {
      this.history = [text, ...this.history.filter((h) => h !== text)].slice(0, this.maxHistory);
    }
  }
  // From `state`: the server's latest accepted prompt.
  serverCurrent(current) {
    const c = norm(current);
    if (this.active === null && c === "" && this.pending === null) return;
    this.pending = c === this.active ? null : c;
  }
  // From `chunk_complete`: returns true when the pending prompt became active with this chunk.
  chunkUsed(activePrompt) {
    const a = norm(activePrompt);
    this.active = a;
    if (this.pending !== null && this.pending === a) {
      this.pending = null;
      return true;
    }
    return false;
  }
  // After `generation_reset`: the server cleared its prompt; the history stays.
  reset() {
    this.active = null;
    this.pending = null;
  }
}
