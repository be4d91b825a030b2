"""A Hugging Face hub on 127.0.0.1 for download tests: a thread running
http.server that speaks the part of the hub's file API the app uses
(service/models/download.py), serving real model folders from disk.

  GET /api/models/{repo}/revision/main[?blobs=true]  siblings (+ size, blobId, lfs)
  GET /api/models/{repo}/tree/main                    entries with oid, size, lfs
  GET /{repo}/resolve/main/{file}                     the bytes; LFS files (model.bin)
      answer 302 to /lfs/{sha256} as the real hub sends them to its CDN
Range requests get 206 with Content-Range. Knobs for the tests: `rate`
(bytes per second, to stop a download half-way), `corrupt` (file names
whose bytes are served with one byte flipped), `no_sizes` (a listing without
sizes, as some mirrors give), and `requests` (every request seen, with its
Range header). Point the app at it with HF_ENDPOINT=hub.url.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024
LFS_SUFFIXES = (".bin",)


@dataclass
class HubFile:
    path: Path
    size: int
    sha256: str
    git_sha1: str

    @property
    def lfs(self) -> bool:
        return self.path.name.endswith(LFS_SUFFIXES)


def _hash_file(path: Path) -> HubFile:
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 2**20):
            sha256.update(chunk)
            sha1.update(chunk)
    return HubFile(path, size, sha256.hexdigest(), sha1.hexdigest())


@dataclass
class Request:
    path: str
    range: str | None


@dataclass
class FakeHub:
    repos: dict[str, Path]                       # repo id -> folder whose files it serves
    rate: float | None = None                    # bytes per second of file data
    corrupt: set[str] = field(default_factory=set)
    no_sizes: bool = False
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self):
        self.files = {repo: {p.name: _hash_file(p) for p in sorted(Path(folder).iterdir())
                             if p.is_file()} for repo, folder in self.repos.items()}
        self.by_sha = {f.sha256: f for files in self.files.values() for f in files.values()}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-hub")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeHub":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def ranges(self, name: str) -> list[str | None]:
        """The Range headers of the requests that fetched file `name`'s bytes."""
        want = {f"/lfs/{f.sha256}" for files in self.files.values()
                for n, f in files.items() if n == name}
        return [r.range for r in self.requests
                if r.path in want or r.path.endswith(f"/resolve/main/{name}")]

    # ------------------------------------------------------------ API bodies
    def sibling(self, name: str, f: HubFile) -> dict:
        entry = {"rfilename": name}
        if not self.no_sizes:
            entry.update(size=f.size, blobId=f.git_sha1)
            if f.lfs:
                entry["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
        return entry

    def tree_entry(self, name: str, f: HubFile) -> dict:
        entry = {"type": "file", "path": name, "size": f.size, "oid": f.git_sha1}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return entry


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):   # quiet: pytest shows failures, not access logs
            pass

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            hub.requests.append(Request(path, self.headers.get("Range")))
            for repo, files in hub.files.items():
                api = f"/api/models/{repo}"
                if path == f"{api}/revision/main":
                    return self._json({"id": repo, "sha": "0" * 40, "siblings": [
                        hub.sibling(n, f) for n, f in files.items()]})
                if path == f"{api}/tree/main":
                    return self._json([hub.tree_entry(n, f) for n, f in files.items()])
                prefix = f"/{repo}/resolve/main/"
                if path.startswith(prefix) and path[len(prefix):] in files:
                    f = files[path[len(prefix):]]
                    if f.lfs:
                        return self._redirect(f)
                    return self._file(f)
            if path.startswith("/lfs/") and path[5:] in hub.by_sha:
                return self._file(hub.by_sha[path[5:]])
            self._json({"error": "Repository not found"}, 404)

        def _json(self, body, status: int = 200):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, f: HubFile):
            self.send_response(302)
            self.send_header("Location", f"/lfs/{f.sha256}")
            self.send_header("X-Linked-Etag", f'"{f.sha256}"')
            self.send_header("X-Linked-Size", str(f.size))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _file(self, f: HubFile):
            start = 0
            ask = self.headers.get("Range")
            if ask and ask.startswith("bytes=") and ask.endswith("-"):
                start = int(ask[6:-1])
            if start >= f.size and f.size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{f.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
            self.send_header("Content-Length", str(f.size - start))
            self.send_header("ETag", f'"{f.sha256 if f.lfs else f.git_sha1}"')
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            flip = f.size // 2 if f.path.name in hub.corrupt else -1
            began = time.monotonic()
            sent = 0
            try:
                with open(f.path, "rb") as fh:
                    fh.seek(start)
                    pos = start
                    while chunk := fh.read(CHUNK):
                        if pos <= flip < pos + len(chunk):
                            b = bytearray(chunk)
                            b[flip - pos] ^= 0xFF
                            chunk = bytes(b)
                        self.wfile.write(chunk)
                        pos += len(chunk)
                        sent += len(chunk)
                        if hub.rate:
                            ahead = sent / hub.rate - (time.monotonic() - began)
                            if ahead > 0:
                                time.sleep(ahead)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the client went away (cancelled): what a real server sees too

    return Handler
