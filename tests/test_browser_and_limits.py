"""The fronts against hostile callers (issue 10): a web page next door (foreign
Host, foreign Origin, on HTTP and on the WebSocket), chunked bodies that
announce no size, streams that hold a slot and send nothing, and errors that
must still be our sentences (Starlette's own refusals, a large frame, a
crash's 503, the auth scheme's case)."""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.service_proc import wait_live_streams

RATE = 16000
LIMIT_MB = 1
IDLE_S = 1.5
ALLOWED = "http://allowed.example:3000"
TOKEN = "browser-test-token-5f1c"


@pytest.fixture(scope="module")
def svc(module_service_factory):
    return module_service_factory("--max-upload-mb", str(LIMIT_MB),
                                  "--stream-idle-timeout", str(IDLE_S),
                                  "--allow-origin", ALLOWED)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def ws_url(url: str, host: str | None = None) -> str:
    base = url.replace("http://", "ws://")
    if host:
        base = f"ws://{host}:{port_of(url)}"
    return base + f"/v1/stream?sample_rate={RATE}&language=en"


def message(r: httpx.Response) -> str:
    body = r.json()
    assert body["error"]["message"] == body["detail"], body
    msg = body["error"]["message"]
    assert msg.endswith(".") and len(msg) > 30, msg
    return msg


def events_until_closed(ws, timeout: float = 20.0) -> tuple[list[dict], int | None, str | None]:
    events = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    except ConnectionClosed as exc:
        return events, exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else None


def refused_handshake(url: str, **kwargs) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        connect(url, proxy=None, open_timeout=10, **kwargs)
    return info.value


# ------------------------------------------------------------------ Host and Origin
def test_foreign_host_is_refused_on_http(svc):
    for host in ("evil.example", f"evil.example:{port_of(svc.url)}", "127.0.0.1:1"):
        r = httpx.get(svc.url + "/v1/status", headers={"Host": host}, timeout=10)
        assert r.status_code == 421, (host, r.status_code, r.text)
        assert "addressed to this computer" in message(r)
    r = httpx.post(svc.url + "/reset", headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 421
    for host in (f"localhost:{port_of(svc.url)}", f"127.0.0.1:{port_of(svc.url)}"):
        r = httpx.get(svc.url + "/v1/status", headers={"Host": host}, timeout=10)
        assert r.status_code == 200, (host, r.text)


def test_foreign_origin_is_refused_on_state_changing_requests(svc):
    r = httpx.post(svc.url + "/reset", headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403 and "--allow-origin" in message(r), r.text
    r = httpx.post(svc.url + "/reset", headers={"Origin": "null"}, timeout=10)
    assert r.status_code == 403
    # Reading is not changing: a GET with an Origin passes (the Host check guards it).
    r = httpx.get(svc.url + "/v1/status", headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 200
    # No Origin (the tray, the CLI, the node), the allowed one, and the
    # service's own pages (/docs) are served.
    for headers in ({}, {"Origin": ALLOWED}, {"Origin": svc.url}):
        r = httpx.post(svc.url + "/reset", headers=headers, timeout=10)
        assert r.status_code == 200, (headers, r.text)


def test_foreign_host_or_origin_is_refused_on_the_websocket(svc):
    port = port_of(svc.url)
    err = refused_handshake(ws_url(svc.url, host="evil.example"),
                            sock=socket.create_connection(("127.0.0.1", port)))
    assert err.response.status_code == 421
    assert "addressed to this computer" in json.loads(bytes(err.response.body))["error"]["message"]
    err = refused_handshake(ws_url(svc.url), origin="http://evil.example")
    assert err.response.status_code == 403
    assert "--allow-origin" in json.loads(bytes(err.response.body))["error"]["message"]
    # The allowed origin and a client without one get a stream.
    for kwargs in ({"origin": ALLOWED}, {}):
        with connect(ws_url(svc.url), proxy=None, open_timeout=10, **kwargs) as ws:
            ws.send(json.dumps({"type": "stop"}))
            events, code, _ = events_until_closed(ws)
        assert events[-1]["type"] == "done" and code == 1000, events
    wait_live_streams(svc.url, 0)
    # A refusal is not an error of the service: no ERROR line for it.
    assert "without completing handshake" not in svc.stderr_tail(400)


# ------------------------------------------------------------------ chunked bodies
def chunks(total: int, counter: list, chunk: bytes = b"A" * 65536):
    """`total` bytes in chunks, counting what the client actually got to send."""
    sent = 0
    while sent < total:
        counter[0] += len(chunk)
        sent += len(chunk)
        yield chunk


def test_chunked_json_body_is_cut_at_the_limit(svc):
    """No Content-Length: the service counts the body as it comes and answers
    413 the moment it passes the limit, without reading the rest into memory."""
    proc = psutil.Process(svc.pid)
    upload = 64 * 2**20
    before = proc.memory_info().rss
    sent = [0]

    def body():
        yield b'{"job_id": "big", "audio": "'
        yield from chunks(upload, sent)
        yield b'"}'
    r = httpx.post(svc.url + "/utterance", content=body(), timeout=60,
                   headers={"Content-Type": "application/json"})
    grown = proc.memory_info().rss - before
    assert r.status_code == 413, r.text
    msg = message(r)
    assert f"limit of {LIMIT_MB} MiB" in msg and "The upload is" not in msg, msg
    assert sent[0] < upload / 2, f"the service read {sent[0] / 2**20:.0f} MiB of the body"
    assert grown < upload / 4, f"the service grew by {grown / 2**20:.0f} MiB"


def test_chunked_multipart_upload_is_cut_at_the_limit(svc):
    """Before, Starlette spooled the whole chunked upload to /tmp and only
    then did the route answer 413: the client got to send all of it."""
    boundary = "b0undary"
    sent = [0]
    upload = 64 * 2**20

    def body():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
               'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n').encode()
        yield from chunks(upload, sent)
        yield f"\r\n--{boundary}--\r\n".encode()
    r = httpx.post(svc.url + "/v1/audio/transcriptions", content=body(), timeout=60,
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and f"limit of {LIMIT_MB} MiB" in message(r), r.text
    assert sent[0] < upload / 2, f"the service read {sent[0] / 2**20:.0f} MiB of the body"
    # The next request is served as before.
    assert httpx.get(svc.url + "/health", timeout=10).status_code == 200


def test_a_file_part_over_the_limit_names_its_true_size(svc):
    """Inside the body's slack (the form framing), the route itself refuses:
    with the part's real size, not the bytes it happened to read."""
    size = LIMIT_MB * 2**20 + 60 * 1024   # rounds to a different tenth than limit + 1 byte
    r = httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": ("a.wav", bytes(size))},
                   timeout=30)
    assert r.status_code == 413, r.text
    assert f"The upload is {size / 2**20:.1f} MiB" in message(r)


# ------------------------------------------------------------------ errors in our shape
def test_starlette_refusals_come_as_our_sentences(svc):
    url = svc.url + "/v1/audio/transcriptions"
    r = httpx.post(url, files={"file": ("a.wav", b"RIFF")}, data={"prompt": "p" * (2**20 + 1)},
                   timeout=30)
    assert r.status_code == 400 and "file" in message(r), r.text
    r = httpx.post(url, files={"file": ("a.wav", b"RIFF")},
                   data={f"field{i}": "1" for i in range(1001)}, timeout=30)
    assert r.status_code == 400 and "1000" in message(r), r.text
    r = httpx.get(svc.url + "/no/such/route", timeout=10)
    assert r.status_code == 404 and "/docs" in message(r)
    r = httpx.get(url, timeout=10)
    assert r.status_code == 405 and "POST" in message(r) and r.headers.get("allow")


def test_a_frame_too_large_says_so_and_the_stream_goes_on(svc):
    with connect(ws_url(svc.url), proxy=None, open_timeout=10) as ws:
        ws.send(b"\0\0" * RATE * 21)       # 21 s at once, the worker idle
        ev = json.loads(ws.recv(timeout=10))
        assert ev["type"] == "error" and "frame" in ev["message"], ev
        assert "busy" not in ev["message"] and "behind" not in ev["message"], ev
        ws.send(b"\0\0" * (RATE // 10))
        ws.send(json.dumps({"type": "stop"}))
        events, code, _ = events_until_closed(ws)
    assert events[-1]["type"] == "done" and code == 1000, events


# ------------------------------------------------------------------ idle streams
def test_an_idle_stream_is_closed_with_a_reason(svc):
    with connect(ws_url(svc.url), proxy=None, open_timeout=10) as ws:
        wait_live_streams(svc.url, 1)
        t0 = time.monotonic()
        events, code, reason = events_until_closed(ws, timeout=IDLE_S + 10)
        took = time.monotonic() - t0
    assert [e["type"] for e in events] == ["error"], events
    assert "No audio arrived" in events[0]["message"], events
    assert code == 1008 and "no audio" in reason, (code, reason)
    assert took < IDLE_S + 3, took
    wait_live_streams(svc.url, 0)  # its slot is free again


def test_a_stream_sending_silence_is_not_idle(svc):
    with connect(ws_url(svc.url), proxy=None, open_timeout=10) as ws:
        end = time.monotonic() + 2 * IDLE_S + 0.5
        while time.monotonic() < end:
            ws.send(b"\0\0" * (RATE // 10))
            time.sleep(0.1)
        ws.send(json.dumps({"type": "stop"}))
        events, code, _ = events_until_closed(ws)
    assert [e for e in events if e["type"] == "error"] == [], events
    assert events[-1]["type"] == "done" and code == 1000


# ------------------------------------------------------------------ beyond loopback
@pytest.fixture(scope="module")
def remote(module_service_factory):
    """Listening beyond loopback, with a token (docs/decisions.md: no Host check there)."""
    return module_service_factory("--host", "0.0.0.0", "--token", TOKEN)


def local(remote_svc) -> str:
    return "http://127.0.0.1:" + str(port_of(remote_svc.url))


def test_beyond_loopback_any_host_with_the_token(remote):
    url = local(remote) + "/v1/status"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.get(url, headers={"Host": f"asr-box.lan:{port_of(remote.url)}", **auth}, timeout=10)
    assert r.status_code == 200, r.text
    r = httpx.get(url, headers={"Host": "asr-box.lan"}, timeout=10)
    assert r.status_code == 401 and "token" in message(r)


def test_the_auth_scheme_is_case_insensitive(remote):
    url = local(remote) + "/v1/status"
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = httpx.get(url, headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=10)
        assert r.status_code == 200, (scheme, r.text)
    r = httpx.get(url, headers={"Authorization": f"Basic {TOKEN}"}, timeout=10)
    assert r.status_code == 401


def test_a_crash_503_says_when_to_retry(remote, speech_files):
    """The request in flight when the worker dies gets 503 with Retry-After
    (last in this module: it costs the worker a restart)."""
    url = local(remote)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    pid = httpx.get(url + "/v1/status", headers=auth, timeout=10).json()["worker_pid"]
    result = {}

    def client():
        with open(speech_files["long"], "rb") as fh:
            result["r"] = httpx.post(url + "/v1/audio/transcriptions", files={"file": fh},
                                     headers=auth, timeout=120)
    th = threading.Thread(target=client)
    th.start()
    worker = psutil.Process(pid)
    deadline = time.monotonic() + 20
    while worker.cpu_percent(0.05) < 20:
        assert time.monotonic() < deadline, "the worker never got busy: the test proves nothing"
    os.kill(pid, signal.SIGKILL)
    th.join(30)
    r = result["r"]
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0, r.headers
    deadline = time.monotonic() + 60
    while httpx.get(url + "/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the worker did not come back"
        time.sleep(0.1)
