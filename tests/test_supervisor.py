"""Supervision: crashes fail the request in flight at once and restart the
worker; timeouts recycle it; a full queue refuses with Retry-After; a model
that cannot load is reported, not retried in a loop; repeated fast crashes
make it give up and say so."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import psutil
import pytest

from tests.support.service_proc import start_service

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def transcribe(url, path, timeout=60):
    with open(path, "rb") as fh:
        return httpx.post(url + "/v1/audio/transcriptions", files={"file": fh}, timeout=timeout)


def wait_state(url, pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = httpx.get(url + "/v1/status", timeout=5).json()
        if pred(st):
            return st
        time.sleep(0.05)
    raise AssertionError(f"state not reached: {st}")


def busy_worker(pid, timeout=10):
    """Wait until the worker is visibly transcribing; fail if it never is."""
    p = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while p.cpu_percent(0.05) < 20:
        assert time.monotonic() < deadline, "the worker never got busy: the test proves nothing"


def test_crash_fails_in_flight_request_at_once(tmp_path, speech_files):
    svc = start_service(tmp_path)
    try:
        result = {}

        def client():
            t0 = time.monotonic()
            result["r"] = transcribe(svc.url, speech_files["long"])
            result["t"] = time.monotonic() - t0
        t = threading.Thread(target=client)
        t.start()
        busy_worker(svc.worker_pid)
        killed_at = time.monotonic()
        os.kill(svc.worker_pid, signal.SIGKILL)
        t.join(10)
        answered_after = time.monotonic() - killed_at
        r = result["r"]
        assert answered_after < 2.0, f"the client waited {answered_after:.1f}s after the crash"
        assert r.status_code == 503, r.text
        assert "stopped unexpectedly" in r.json()["error"]["message"]
        st = wait_state(svc.url, lambda s: s["state"] == "ready")
        assert st["restarts"] == 1 and st["worker_pid"] != svc.worker_pid
        assert transcribe(svc.url, speech_files["fox"]).status_code == 200
    finally:
        svc.stop()


def test_timeout_gives_504_and_recycles_worker(tmp_path, speech_files):
    svc = start_service(tmp_path, "--request-timeout", "3")
    try:
        r = transcribe(svc.url, speech_files["very_long"])
        assert r.status_code == 504 and "limit" in r.json()["error"]["message"], r.text
        st = wait_state(svc.url, lambda s: s["state"] == "ready" and s["worker_pid"] != svc.worker_pid)
        assert st["restarts"] == 1
        assert not psutil.pid_exists(svc.worker_pid)
        assert transcribe(svc.url, speech_files["fox"]).status_code == 200
    finally:
        svc.stop()


def test_full_queue_refuses_with_retry_after(tmp_path, speech_files):
    svc = start_service(tmp_path, "--max-queue", "1")
    try:
        data = speech_files["long"].read_bytes()
        results = []

        def client():
            r = httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": ("a.wav", data)},
                           timeout=120)
            results.append(r)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        codes = sorted(r.status_code for r in results)
        assert codes.count(200) >= 2 and 503 in codes, codes
        busy = next(r for r in results if r.status_code == 503)
        assert busy.headers["Retry-After"] and "busy" in busy.json()["error"]["message"]
        assert httpx.get(svc.url + "/v1/status").json()["worker_pid"] == svc.worker_pid
    finally:
        svc.stop()


@pytest.mark.parametrize("args, phrase", [
    (("--model", "/nonexistent/model-dir"), "could not be loaded"),
    (("--device", "cuda"), "CUDA"),
])
def test_load_failure_is_reported_not_looped(tmp_path, args, phrase):
    if "cuda" in args:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            pytest.skip("a CUDA device exists here, so --device cuda loads")
    svc = start_service(tmp_path, *args, wait_ready=False)
    try:
        event = svc.wait_event()
        assert event["event"] == "error" and phrase in event["message"], event
        h = httpx.get(event["url"] + "/health")
        assert h.status_code == 503 and phrase in h.json()["message"]
        time.sleep(1.0)
        st = httpx.get(event["url"] + "/v1/status").json()
        assert st["state"] == "load_failed" and st["restarts"] == 0 and st["worker_pid"] is None
        r = httpx.post(event["url"] + "/v1/audio/transcriptions", files={"file": ("a.wav", b"x")})
        assert r.status_code == 503 and phrase in r.json()["error"]["message"]
        os.kill(svc.pid, signal.SIGTERM)
        assert svc.popen.wait(5) == 0
    finally:
        svc.stop()


def test_gives_up_after_repeated_fast_crashes(tmp_path):
    svc = start_service(tmp_path)
    try:
        pid = svc.worker_pid
        for _ in range(5):
            os.kill(pid, signal.SIGKILL)
            st = wait_state(svc.url, lambda s: s["state"] == "gave_up" or (
                s["state"] == "ready" and s["worker_pid"] != pid))
            pid = st["worker_pid"]
            if st["state"] == "gave_up":
                break
        assert st["state"] == "gave_up", st
        assert "stopped restarting" in st["error"]
        h = httpx.get(svc.url + "/health")
        assert h.status_code == 503 and "stopped restarting" in h.json()["message"]
    finally:
        svc.stop()


def test_control_restart_and_shutdown_with_token(tmp_path, speech_files):
    svc = start_service(tmp_path, "--token", TOKEN)
    try:
        r = httpx.post(svc.url + "/v1/worker/restart", headers=AUTH, timeout=60)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert r.json()["worker_pid"] != svc.worker_pid and r.json()["restarts"] == 1
        assert transcribe(svc.url, speech_files["fox"]).status_code == 200
        r = httpx.post(svc.url + "/v1/shutdown", headers=AUTH)
        assert r.status_code == 200
        assert svc.popen.wait(5) == 0
    finally:
        svc.stop()


async def in_flight(sup, nth, timeout=60):
    """Until the nth request made is the one the worker runs: it was queued,
    one request is in flight and none waits behind it."""
    deadline = time.monotonic() + timeout
    while not (sup.total == nth and sup.busy and sup.queue_depth == 0):
        assert time.monotonic() < deadline, f"request {nth} never reached the worker"
        await asyncio.sleep(0.01)


def test_cancelled_callers_do_not_stall_the_queue(speech_files):
    """A caller cancelled while its request runs (a WebSocket client that
    vanished) must neither kill the dispatcher nor leave the queue stuck."""
    from service.config import ModelConfig
    from service.supervision.supervisor import Supervisor

    async def scenario():
        sup = Supervisor(ModelConfig())
        await sup.start()
        try:
            assert await sup.wait_ready(60)
            long_msg = {"op": "transcribe_file", "data": speech_files["long"].read_bytes(),
                        "options": {}}
            for nth in (1, 2):
                task = asyncio.ensure_future(sup.call(long_msg))
                await in_flight(sup, nth)
                task.cancel()
            fox = {"op": "transcribe_file", "data": speech_files["fox"].read_bytes(), "options": {}}
            result = await asyncio.wait_for(sup.call(fox), 60)
            assert "lazy dog" in result["text"].lower()
            assert sup.restarts == 0
        finally:
            await sup.stop()
    asyncio.run(scenario())
