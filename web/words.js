// What the page says when something goes wrong, in plain words.

// "The server could not <words>: <reason>." for each command.
const COMMAND_WORDS = {
  start: "start", pause: "pause", resume: "resume", reset: "reset", set_prompt: "change the prompt",
  set_seed: "set the seed", set_video: "use this video", set_mode: "switch the source",
};
const SDK_ERRORS = {
  CONNECTION_FAILED: "Could not connect to the server",
  GPU_CONNECTION_ERROR: "The media connection to the server failed",
  RECONNECTION_FAILED: "Reconnecting to the session failed",
  MESSAGE_SEND_FAILED: "A command could not be sent",
  TRACK_PUBLISH_FAILED: "The camera could not be sent to the server",
  TRACK_UNPUBLISH_FAILED: "The camera could not be stopped",
};

export const commandWords = (command) => COMMAND_WORDS[command] || command;

// A `command_error` {command, reason}.
export const commandError = (command, reason) => `The server could not ${commandWords(command)}: ${reason}.`;

// The SDK's error messages carry the HTTP status and the server's JSON {"error": reason}
// ("Connection failed: Error: Failed to start session: 429 {"error":"..."}").
function plain(words, message) {
  const m = /(\d{3}) (\{.*\})/.exec(message || "");
  let reason = message, status = 0;
  if (m) {
    status = Number(m[1]);
    try { reason = JSON.parse(m[2]).error || reason; } catch { /* keep the raw text */ }
  }
  if (status === 429)
    return `The server is busy (${reason}). Close the other tab or window that uses it, or start sana serve with a larger --max-sessions.`;
  if (status === 401) {
    return /rejected/.test(reason)
      ? "The server did not accept the token in this page's address (?token=...)."
      : "The server needs a token: open this page as /?token=YOUR_TOKEN.";
  }
  return `${words}: ${reason}.`;
}

// A ReactorError {code, message} from the SDK's "error" event.
export const sdkError = (code, message) => plain(SDK_ERRORS[code] || "Connection problem", message);

// What connect() threw.
export const connectionError = (message) => plain(SDK_ERRORS.CONNECTION_FAILED, message);
