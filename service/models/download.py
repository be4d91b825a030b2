"""Download a faster-whisper model from the Hugging Face hub into the model
cache, resumably, verifying every file.

The hub's plain file API, through httpx (no hub library):
  GET {endpoint}/api/models/{repo}/revision/main?blobs=true
      the files (siblings) with their size, git blob id and, for LFS files,
      their SHA-256 (`lfs.sha256`); where a mirror leaves sizes out,
      GET {endpoint}/api/models/{repo}/tree/main gives them (`lfs.oid`)
  GET {endpoint}/{repo}/resolve/main/{file}   the bytes (Range: to resume)
The endpoint is HF_ENDPOINT (default https://huggingface.co), as for the hub's
own tools. Only the files faster-whisper loads are fetched (WANTED).

Files arrive in `<cache>/<name>.partial/<file>.incomplete`; each is checked
against the listing's size and hash (SHA-256 for LFS files, the git blob
SHA-1 for the small ones), then renamed to `<file>`; when all are there the
folder is renamed to `<cache>/<name>`. A stopped download (cancel, lost
network, killed) keeps its .incomplete and resumes from its size with an
HTTP Range request. A file that fails its check is deleted, with a sentence.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

import httpx

from service.config import LOOPBACK_HOSTS
from service.errors import ServiceError
from service.models import catalog
from service.models.cache import model_cache_dir
from service.models.durable import fsync_dir
from service.models.folder import VOCABULARY_FILES, check_folder
from service.models.names import HUB_REPOS, OFFLINE, downloadable
from service.sizes import mib

ENDPOINT_ENV = "HF_ENDPOINT"
DEFAULT_ENDPOINT = "https://huggingface.co"
WANTED = ("config.json", "model.bin", "tokenizer.json", "preprocessor_config.json",
          "vocabulary.json", "vocabulary.txt")
MANIFEST = ".manifest.json"       # in the .partial folder: what this download expects
INCOMPLETE = ".incomplete"
CHUNK = 256 * 1024
PROGRESS_EVERY = 0.2              # seconds between progress reports
SPEED_WINDOW = 3.0                # seconds of transfer the speed is averaged over
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DownloadFailed(ServiceError):
    """A download that did not finish, with a sentence for the user."""
    status = 502


class DownloadCancelled(DownloadFailed):
    status = 499


@dataclass(frozen=True)
class Progress:
    file: str        # the file arriving now
    bytes: int       # of the whole model, already here
    total: int       # of the whole model
    speed: float     # bytes per second, over the last few seconds
    eta: float | None  # seconds left at that speed; None before any speed is known

    def to_json(self) -> dict:
        return {"event": "progress", "file": self.file, "bytes": self.bytes,
                "total": self.total, "speed": round(self.speed, 1),
                "eta": None if self.eta is None else round(self.eta, 1)}


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None   # LFS files
    git_sha1: str | None  # the others: git's blob id, SHA-1 of "blob SIZE\0" + bytes

    def new_hash(self):
        if self.sha256:
            return hashlib.sha256()
        h = hashlib.sha1()
        h.update(b"blob %d\0" % self.size)
        return h

    @property
    def expected(self) -> str:
        return self.sha256 or self.git_sha1 or ""

    @property
    def hash_name(self) -> str:
        return "SHA-256" if self.sha256 else "git SHA-1"


def endpoint() -> str:
    return (os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")


class _Meter:
    """Bytes done of the whole model, the recent speed, and when to report."""

    def __init__(self, total: int, done: int, report: Callable[[Progress], None] | None):
        self.total, self.done, self.report = total, done, report
        self.samples: collections.deque = collections.deque([(time.monotonic(), done)])
        self.last_report = 0.0

    def add(self, n: int, file: str, force: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > SPEED_WINDOW:
            self.samples.popleft()
        if self.report and (force or now - self.last_report >= PROGRESS_EVERY):
            self.last_report = now
            t0, b0 = self.samples[0]
            speed = (self.done - b0) / (now - t0) if now > t0 else 0.0
            eta = (self.total - self.done) / speed if speed > 0 else None
            self.report(Progress(file, self.done, self.total, speed, eta))


class _Lock:
    """One download of a name at a time (the tray and a terminal may both try)."""

    def __init__(self, path: Path, name: str):
        self.path, self.name, self.fh = path, name, None

    def __enter__(self):
        self.fh = open(self.path, "a+b")
        self.fh.seek(0)   # msvcrt locks from the current position
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(self.fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                try:
                    fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise
                except OSError:
                    return self   # a file system without locks: go on unguarded
        except OSError:
            self.fh.close()
            raise DownloadFailed(f"Another download of '{self.name}' is under way on this "
                                 "computer: wait for it to finish.", status=409) from None
        return self

    def __exit__(self, *exc):
        self.fh.close()   # closing releases the lock on both systems


def download(name: str, cache_dir=None, on_progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None) -> Path:
    """Download model `name` (a faster-whisper name) into the cache and return
    its folder. DownloadFailed (DownloadCancelled when `cancel` was set) with
    a sentence otherwise; what arrived is kept for the next try."""
    if name in OFFLINE:
        return Path(catalog.resolve(name, cache_dir))   # no network needed (base: joined)
    if name not in HUB_REPOS:
        raise DownloadFailed(f"'{name}' is not a model name this app can download: choose "
                             f"one of {', '.join(downloadable())}.", status=400)
    cache = Path(cache_dir) if cache_dir else model_cache_dir()
    final = cache / name
    if final.exists():
        check = check_folder(final)
        if check.ok:
            return final
        raise DownloadFailed(f"{check.sentence} Delete that folder, then download "
                             f"'{name}' again.", status=409)
    cache.mkdir(parents=True, exist_ok=True)
    with _Lock(cache / f".{name}.lock", name):
        return _Download(name, HUB_REPOS[name], cache, on_progress, cancel).run()


class _Download:
    def __init__(self, name, repo, cache: Path, on_progress, cancel):
        self.name, self.repo, self.cache = name, repo, cache
        self.partial = cache / (name + catalog.PARTIAL_SUFFIX)
        self.final = cache / name
        self.on_progress = on_progress
        self.cancel = cancel or threading.Event()
        self.ep = endpoint()
        host = urlsplit(self.ep).hostname or ""
        # A desktop proxy setting must not capture a hub served on this computer.
        self.client = httpx.Client(timeout=TIMEOUT, follow_redirects=True,
                                   trust_env=host not in LOOPBACK_HOSTS,
                                   headers={"User-Agent": "asr-tray"})

    # ------------------------------------------------------------ the steps
    def run(self) -> Path:
        try:
            files = self._listing()
            self._prepare_partial(files)
            already = {f.name: self._have(f) for f in files}
            total = sum(f.size for f in files)
            self._check_space(total - sum(already.values()))
            meter = _Meter(total, sum(already.values()), self.on_progress)
            for f in files:
                if not self._complete(f):
                    self._fetch(f, meter)
            meter.add(0, files[-1].name, force=True)
            (self.partial / MANIFEST).unlink()
            fsync_dir(self.partial)
            os.rename(self.partial, self.final)
            fsync_dir(self.cache)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self._offline(exc) from exc
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise DownloadFailed(f"The download of '{self.name}' stopped ({reason}): try "
                                 "again, it resumes where it stopped.") from exc
        finally:
            self.client.close()
        check = check_folder(self.final)
        if not check.ok:
            shutil.rmtree(self.final, ignore_errors=True)
            raise DownloadFailed(f"The model '{self.name}' downloaded from {self.repo} cannot "
                                 f"be used: {check.problem}.")
        return self.final

    def _offline(self, exc: Exception) -> DownloadFailed:
        reason = str(exc) or type(exc).__name__
        kept = " What arrived is kept: the next try resumes." if self.partial.exists() else ""
        return DownloadFailed(f"The model '{self.name}' needs a network to download: {self.ep} "
                              f"could not be reached ({reason}). Connect to the internet (or "
                              f"set HF_ENDPOINT to a mirror) and try again.{kept}")

    def _get_json(self, url: str):
        r = self.client.get(url)
        if r.status_code in (401, 403):
            raise DownloadFailed(f"The hub at {self.ep} refused access to {self.repo} "
                                 f"(HTTP {r.status_code}).")
        if r.status_code == 404:
            raise DownloadFailed(f"The hub at {self.ep} has no model repository {self.repo} "
                                 "(HTTP 404).")
        if r.status_code != 200:
            raise DownloadFailed(f"The hub at {self.ep} answered HTTP {r.status_code} for "
                                 f"{self.repo}: try again later.")
        try:
            return r.json()
        except ValueError:
            raise DownloadFailed(f"The hub at {self.ep} did not answer with JSON for "
                                 f"{self.repo}: is HF_ENDPOINT right?") from None

    def _listing(self) -> list[RemoteFile]:
        repo_url = f"{self.ep}/api/models/{self.repo}"
        info = self._get_json(f"{repo_url}/revision/main?blobs=true")
        entries = {s.get("rfilename"): s for s in info.get("siblings") or []}
        if any(n in entries and "size" not in entries[n] for n in WANTED):
            tree = self._get_json(f"{repo_url}/tree/main")
            entries = {t.get("path"): t for t in tree if t.get("type", "file") == "file"}
        files = []
        for n in WANTED:
            e = entries.get(n)
            if e is None:
                continue
            lfs = e.get("lfs") or {}
            files.append(RemoteFile(n, int(lfs.get("size") or e["size"]),
                                    lfs.get("sha256") or lfs.get("oid"),
                                    None if lfs else (e.get("blobId") or e.get("oid"))))
        have = {f.name for f in files}
        missing = ("model.bin" if "model.bin" not in have
                   else "tokenizer.json" if "tokenizer.json" not in have
                   else "vocabulary" if not have & set(VOCABULARY_FILES) else None)
        if missing:
            # Refused before any byte is fetched: check_folder would refuse the result.
            raise DownloadFailed(f"The hub repository {self.repo} has no {missing}: it is not "
                                 "a CTranslate2 Whisper model this app can load offline.")
        if any(not f.expected for f in files):
            raise DownloadFailed(f"The hub at {self.ep} gave no checksum for some files of "
                                 f"{self.repo}, so they could not be verified: not downloaded.")
        return files

    def _prepare_partial(self, files: list[RemoteFile]) -> None:
        """Keep what an earlier try left only if it was the very same files."""
        manifest = json.dumps({"repo": self.repo, "files": [f.__dict__ for f in files]},
                              sort_keys=True)
        path = self.partial / MANIFEST
        if self.partial.exists():
            try:
                same = path.read_text() == manifest
            except OSError:
                same = False
            if not same:
                shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest)

    def _complete(self, f: RemoteFile) -> bool:
        """Verified and renamed by an earlier try."""
        done = self.partial / f.name
        return done.exists() and done.stat().st_size == f.size

    def _have(self, f: RemoteFile) -> int:
        done = self.partial / f.name
        if done.exists():
            return done.stat().st_size if done.stat().st_size == f.size else 0
        part = self.partial / (f.name + INCOMPLETE)
        size = part.stat().st_size if part.exists() else 0
        if size > f.size:
            part.unlink()
            return 0
        return size

    def _check_space(self, needed: int) -> None:
        free = shutil.disk_usage(self.partial).free
        if needed > free:
            raise DownloadFailed(f"Not enough disk space for '{self.name}' in {self.cache}: it "
                                 f"needs {mib(needed)} more, {mib(free)} is free. Free some "
                                 "space or set ASR_TRAY_MODEL_CACHE to another disk.")

    def _stop_if_cancelled(self, meter: _Meter) -> None:
        if self.cancel.is_set():
            raise DownloadCancelled(f"The download of '{self.name}' was cancelled; the "
                                    f"{mib(meter.done)} that arrived are kept, so the next "
                                    "try resumes from there.")

    def _fetch(self, f: RemoteFile, meter: _Meter) -> None:
        self._stop_if_cancelled(meter)
        done = self.partial / f.name
        part = self.partial / (f.name + INCOMPLETE)
        if done.exists():
            done.unlink()   # wrong size: an earlier, different file
        have = part.stat().st_size if part.exists() else 0
        digest = f.new_hash()
        if have:
            with open(part, "rb") as fh:
                while chunk := fh.read(4 * 2**20):
                    digest.update(chunk)
        url = f"{self.ep}/{self.repo}/resolve/main/{quote(f.name)}"
        headers = {"Range": f"bytes={have}-"} if 0 < have < f.size else {}
        if have < f.size:
            with self.client.stream("GET", url, headers=headers) as r:
                if r.status_code == 200 and have:
                    # The server ignored the Range: start this file again.
                    meter.add(-have, f.name)
                    have, digest = 0, f.new_hash()
                    part.unlink()
                elif r.status_code not in (200, 206):
                    raise DownloadFailed(f"The hub at {self.ep} answered HTTP "
                                         f"{r.status_code} for {f.name} of {self.repo}: try "
                                         "again later (what arrived is kept).")
                with open(part, "ab") as out:
                    for chunk in r.iter_bytes(CHUNK):
                        if self.cancel.is_set():
                            out.flush()
                            self._stop_if_cancelled(meter)
                        out.write(chunk)
                        digest.update(chunk)
                        meter.add(len(chunk), f.name)
                    out.flush()
                    os.fsync(out.fileno())
        self._verify(f, part, digest.hexdigest())
        os.rename(part, done)

    def _verify(self, f: RemoteFile, part: Path, actual: str) -> None:
        size = part.stat().st_size
        if size == f.size and actual == f.expected:
            return
        part.unlink()
        what = (f"{size} bytes instead of {f.size}" if size != f.size
                else f"its {f.hash_name} is {actual}, the hub says {f.expected}")
        raise DownloadFailed(f"The file {f.name} of '{self.name}' arrived corrupted ({what}), "
                             "so it was deleted: try again, the download fetches that file "
                             "afresh.")

