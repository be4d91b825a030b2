"""`asr-service models download` against a hub on loopback (tests/support/
fake_hub.py) that speaks the Hugging Face file API and serves tiny.en's real
files as the repository of large-v3: progress lines, a result a service
loads, cancel then resume with a Range request, a corrupted file refused and
deleted, a mirror without sizes, and no network at all."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.models import offline
from service.models.cache import CACHE_ENV
from service.models.names import HUB_REPOS
from service.safety.markers import without_markers
from tests.support import speech
from tests.support.fake_hub import FakeHub
from tests.support.files import sha256

NAME = "large-v3"
TINY = offline.tiny_en_folder()
MODEL_BIN = TINY / "model.bin"
MAX_WER = 0.35



@pytest.fixture(scope="module")
def tiny_sha() -> str:
    return sha256(MODEL_BIN)


@pytest.fixture
def hub():
    with FakeHub({HUB_REPOS[NAME]: TINY}) as h:
        yield h


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def command(cache: Path, endpoint: str, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    env = dict(without_markers(os.environ), **{CACHE_ENV: str(cache), "HF_ENDPOINT": endpoint})
    return subprocess.Popen([sys.executable, "-m", "service", "models", "download", *args],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)


def download(cache: Path, endpoint: str, name: str = NAME) -> tuple[int, list[dict], str]:
    proc = command(cache, endpoint, name, "--json")
    out, err = proc.communicate(timeout=120)
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


def test_download_reports_progress_and_the_model_loads(hub, cache, tiny_sha, service_factory,
                                                      monkeypatch, speech_files):
    code, events, err = download(cache, hub.url)
    assert code == 0, (events, err)
    progress, last = events[:-1], events[-1]
    assert last == {"event": "done", "name": NAME, "path": str(cache / NAME)}
    assert progress and all(e["event"] == "progress" for e in progress)
    total = sum(f.stat().st_size for f in TINY.iterdir())
    assert {e["total"] for e in progress} == {total}
    done = [e["bytes"] for e in progress]
    assert done == sorted(done) and done[-1] == total
    assert {e["file"] for e in progress} >= {"model.bin"}
    assert all(e["speed"] >= 0 for e in progress) and progress[-1]["eta"] in (0, 0.0)
    folder = cache / NAME
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in TINY.iterdir())
    assert sha256(folder / "model.bin") == tiny_sha
    assert not (cache / f"{NAME}.partial").exists()
    # model.bin came the way the real hub sends it: a redirect to its CDN
    assert any(r.path.startswith("/lfs/") for r in hub.requests)
    # a second download is a no-op: nothing more is fetched
    seen = len(hub.requests)
    code, events, _ = download(cache, hub.url)
    assert code == 0 and events[-1]["event"] == "done" and len(hub.requests) == seen

    # it is listed, and a service loads it by name
    listed = subprocess.run([sys.executable, "-m", "service", "models", "--json"],
                            env=dict(without_markers(os.environ), **{CACHE_ENV: str(cache)}),
                            capture_output=True, text=True, timeout=60)
    entry = next(e for e in json.loads(listed.stdout) if e["name"] == NAME)
    assert entry["source"] == "downloaded" and entry["path"] == str(folder)
    monkeypatch.setenv(CACHE_ENV, str(cache))
    svc = service_factory("--model", NAME)
    r = httpx.post(svc.url + "/v1/audio/transcriptions", timeout=120,
                   files={"file": ("fox.wav", speech_files["fox"].read_bytes())})
    assert r.status_code == 200, r.text
    assert speech.wer(speech.SENTENCES["fox"][2], r.json()["text"]) <= MAX_WER


def test_a_cancelled_download_resumes_with_a_range_request(hub, cache, tiny_sha):
    hub.rate = 12 * 2**20   # ~6 s for model.bin: time to cancel half-way
    proc = command(cache, hub.url, NAME, "--json", "--lifeline-stdin", stdin=subprocess.PIPE)
    try:
        for line in proc.stdout:
            event = json.loads(line)
            assert event["event"] == "progress", event
            if event["file"] == "model.bin" and event["bytes"] > 15 * 2**20:
                break
        # one download of a name at a time: a second one is refused, not interleaved
        code, events, _ = download(cache, hub.url)
        assert code == 1 and "is under way" in events[-1]["message"], events
        t0 = time.monotonic()
        proc.stdin.close()                         # the tray's Cancel, or the tray gone
        rest = [json.loads(line) for line in proc.stdout]
        code = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - t0 < 3, "the download did not stop promptly on stdin EOF"
    assert code == 1 and rest[-1]["event"] == "error" and rest[-1]["cancelled"] is True, rest
    assert "cancelled" in rest[-1]["message"] and "resumes" in rest[-1]["message"]
    partial = cache / f"{NAME}.partial"
    kept = (partial / "model.bin.incomplete").stat().st_size
    assert 10 * 2**20 < kept < MODEL_BIN.stat().st_size
    assert not (cache / NAME).exists()

    hub.rate = None
    code, events, err = download(cache, hub.url)
    assert code == 0, (events, err)
    assert events[0]["bytes"] >= kept            # the progress starts where it stopped
    assert hub.ranges("model.bin")[-1] == f"bytes={kept}-"
    assert sha256(cache / NAME / "model.bin") == tiny_sha


@pytest.mark.parametrize("corrupt", ["model.bin", "tokenizer.json"])
def test_a_corrupted_file_is_refused_and_deleted(hub, cache, corrupt):
    hub.corrupt = {corrupt}
    code, events, _ = download(cache, hub.url)
    assert code == 1 and events[-1]["event"] == "error", events
    message = events[-1]["message"]
    kind = "SHA-256" if corrupt == "model.bin" else "git SHA-1"
    assert message.startswith(f"The file {corrupt} of '{NAME}' arrived corrupted (its {kind} is ")
    assert "so it was deleted: try again" in message
    partial = cache / f"{NAME}.partial"
    assert not (partial / f"{corrupt}.incomplete").exists() and not (partial / corrupt).exists()
    assert not (cache / NAME).exists()
    # the next try fetches that file afresh (no Range) and succeeds
    hub.corrupt = set()
    code, events, _ = download(cache, hub.url)
    assert code == 0 and events[-1]["event"] == "done"
    assert hub.ranges(corrupt)[-1] is None


def test_a_listing_without_sizes_falls_back_to_the_tree(cache, tiny_sha):
    with FakeHub({HUB_REPOS[NAME]: TINY}, no_sizes=True) as hub:
        code, events, err = download(cache, hub.url)
        assert code == 0, (events, err)
        assert any(r.path.endswith("/tree/main") for r in hub.requests)
    assert sha256(cache / NAME / "model.bin") == tiny_sha


def test_no_network_gets_one_sentence(cache):
    with socket.socket() as s:       # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, events, _ = download(cache, closed)
    assert code == 1 and len(events) == 1, events
    assert events[0]["message"].startswith(
        f"The model '{NAME}' needs a network to download: {closed} could not be reached (")
    assert not (cache / NAME).exists()


def test_names_it_cannot_download(cache, hub):
    code, events, _ = download(cache, hub.url, "no-such-model")
    assert code == 1 and "is not a model name this app can download" in events[-1]["message"]
    code, events, _ = download(cache, hub.url, "tiny.en")   # offline: nothing to fetch
    assert code == 0 and events[-1]["path"] == str(TINY) and hub.requests == []
