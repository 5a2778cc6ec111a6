"""A stand-in for the Hugging Face hub on 127.0.0.1, standard library only.

It serves what `sana fetch` reads, in the hub's shapes:
  GET /api/models/{owner}/{name}/tree/{rev}[/{dir}]  -> JSON list of {"type", "path", "size",
      "oid" (git blob SHA-1), "lfs": {"oid" (SHA-256), "size", "pointerSize"}} (lfs for weights)
  GET /{owner}/{name}/resolve/{rev}/{path}           -> the file; weights answer with a 302 to
      /cdn-lfs/... on a second port (as the hub redirects to its CDN); both serve byte ranges.
Faults for tests: `cut` (the first full transfer of a file sends half and drops the
connection), `corrupt` (one byte flipped on every transfer), `gated` (repo -> required token).
Every request is logged as (method, path, range header, authorization header).
"""
import hashlib
import http.server
import json
import threading
import urllib.parse

LFS_SUFFIXES = (".pth", ".safetensors", ".bin")


class Hub:
    def __init__(self, files, gated=None):
        self.files = dict(files)  # (repo, path) -> bytes
        self.gated = dict(gated or {})
        self.cut, self.corrupt = set(), set()
        self.log = []
        self._lock = threading.Lock()
        self._served_cut = set()
        handler = type("H", (_Handler,), {"hub": self})
        # Two listeners, as the hub and its CDN are two hosts: the redirect crosses ports, so
        # a client must drop the Authorization header on the way.
        self.servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
        self.url, self.cdn_url = ["http://127.0.0.1:%d" % s.server_address[1] for s in self.servers]
        for s in self.servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def requests(self, prefix=""):
        with self._lock:
            return [r for r in self.log if r[1].startswith(prefix)]

    def entry(self, repo, path):
        data = self.files[(repo, path)]
        e = {"type": "file", "path": path, "size": len(data)}
        if path.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (sha.encode(), len(data))
            e["oid"] = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()
            e["lfs"] = {"oid": sha, "size": len(data), "pointerSize": len(pointer)}
        else:
            e["oid"] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        return e


class _Handler(http.server.BaseHTTPRequestHandler):
    hub = None  # set by Hub

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _auth_ok(self, repo):
        want = self.hub.gated.get(repo)
        return want is None or self.headers.get("Authorization") == "Bearer " + want

    def do_GET(self):
        hub = self.hub
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        with hub._lock:
            hub.log.append(("GET", path, self.headers.get("Range"), self.headers.get("Authorization")))
        parts = path.strip("/").split("/")
        if len(parts) >= 6 and parts[:2] == ["api", "models"] and parts[4] == "tree":
            repo, folder = parts[2] + "/" + parts[3], "/".join(parts[6:])
            if not self._auth_ok(repo):
                return self._send(401, b'{"error":"Access to this repo is restricted"}')
            names = sorted(p for (r, p) in hub.files if r == repo)
            if not any(r == repo for (r, _) in hub.files):
                return self._send(404, b'{"error":"Repository not found"}')
            listing, dirs = [], set()
            for p in names:
                head, _, _ = p.rpartition("/")
                if head == folder:
                    listing.append(hub.entry(repo, p))
                elif (head + "/").startswith(folder + "/" if folder else ""):
                    sub = p[len(folder) + 1 if folder else 0:].split("/")[0]
                    dirs.add(sub)
            listing += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": (folder + "/" if folder else "") + d}
                        for d in sorted(dirs)]
            return self._send(200, json.dumps(listing).encode())
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, fpath = parts[0] + "/" + parts[1], "/".join(parts[4:])
            if not self._auth_ok(repo):
                return self._send(401, b"Access to this repo is restricted")
            if (repo, fpath) not in hub.files:
                return self._send(404, b"Entry not found")
            if fpath.endswith(LFS_SUFFIXES):
                return self._send(302, b"", headers=[("Location", "%s/cdn-lfs/%s/%s" % (hub.cdn_url, repo, fpath))])
            return self._serve(repo, fpath)
        if parts[0] == "cdn-lfs" and len(parts) >= 4:
            return self._serve(parts[1] + "/" + parts[2], "/".join(parts[3:]))
        return self._send(404, b"no such endpoint")

    def _serve(self, repo, fpath):
        hub = self.hub
        data = hub.files[(repo, fpath)]
        if (repo, fpath) in hub.corrupt:
            data = data[:len(data) // 3] + bytes([data[len(data) // 3] ^ 0xFF]) + data[len(data) // 3 + 1:]
        rng = self.headers.get("Range")
        start = 0
        if rng:
            if not rng.startswith("bytes=") or not rng[6:].rstrip("-").isdigit() or not rng.endswith("-"):
                return self._send(400, b"bad range")
            start = int(rng[6:-1])
            if start >= len(data):
                return self._send(416, b"", headers=[("Content-Range", "bytes */%d" % len(data))])
        body = data[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        with hub._lock:
            cut = (repo, fpath) in hub.cut and (repo, fpath) not in hub._served_cut and not rng
            if cut:
                hub._served_cut.add((repo, fpath))
        if cut:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)
