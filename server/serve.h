/* `sana serve`: a Reactor-compatible (SDK 2.9.0) real-time editing server.
 * HTTP on libsoup-3.0 and WebRTC on GStreamer webrtcbin, on one GLib main loop; one engine
 * worker thread per running session. */
#ifndef SANA_SERVER_SERVE_H
#define SANA_SERVER_SERVE_H

/* Parses the options and runs until SIGINT/SIGTERM. Returns the process exit code. */
int sana_serve_cli(int argc, char **argv);

#endif
