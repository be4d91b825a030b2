"""The kill matrix: every way the service or its parent can end, and in each
case zero survivors (by env markers and by recorded pid + create_time) within a
deadline, the port free again, and a relaunch on the same port that works."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from service.safety import registry
from tests.support import procs
from tests.support.service_proc import start_service

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

ROOT = Path(__file__).resolve().parent.parent
GONE_DEADLINE = 3.0


def tree_ids(runtime_dir) -> set:
    """Identities of our whole tree: markers + every registry record."""
    ids = procs.identities(procs.tree(str(runtime_dir)))
    ids |= {(r.pid, r.create_time) for r in registry.read_all()}
    return ids


def assert_all_gone(runtime_dir, ids, deadline=GONE_DEADLINE) -> float:
    left, waited = procs.wait_gone(ids, deadline)
    assert not left, f"survivors after {deadline}s: {left}"
    still = procs.tree(str(runtime_dir))
    assert not still, f"marked processes still alive: {[p.pid for p in still]}"
    return waited


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def assert_port_free_and_relaunch(tmp_path, port: int) -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.close()
    again = start_service(tmp_path, "--port", str(port))  # later --port wins in argparse
    try:
        assert port_of(again.url) == port
        assert httpx.get(again.url + "/health", timeout=5).json()["status"] == "ok"
    finally:
        again.stop()


def wait_worker_recorded(timeout=30.0) -> registry.Record:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in registry.read_all():
            if rec.role == "worker" and rec.process() is not None:
                return rec
        time.sleep(0.01)
    raise AssertionError("no worker record appeared")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_signal_stops_everything(tmp_path, runtime_dir, sig):
    svc = start_service(tmp_path)
    ids = tree_ids(runtime_dir)
    assert {svc.pid, svc.worker_pid} <= {pid for pid, _ in ids}
    t0 = time.monotonic()
    os.kill(svc.pid, sig)
    code = svc.popen.wait(5)
    assert time.monotonic() - t0 < 2.0, "the service must exit within 2 s"
    assert code == 0, svc.stderr_tail()
    assert_all_gone(runtime_dir, ids)
    # Clean exit: records removed; and none of the pitfalls of the old design.
    assert registry.read_all() == []
    err = svc.stderr_tail(200)
    assert "Traceback" not in err and "another loop is running" not in err, err
    assert_port_free_and_relaunch(tmp_path, port_of(svc.url))


def test_sigkill_of_service_takes_worker_down(tmp_path, runtime_dir):
    svc = start_service(tmp_path)
    ids = tree_ids(runtime_dir)
    os.kill(svc.pid, signal.SIGKILL)
    svc.popen.wait(5)
    assert_all_gone(runtime_dir, ids)
    assert_port_free_and_relaunch(tmp_path, port_of(svc.url))


node = shutil.which("node")


def start_parent(kind: str = "node"):
    """A parent process that starts the service and relays its ready line:
    a plain Python one, or a Node.js one that behaves like an Electron app."""
    if kind == "node":
        cmd = [node, str(ROOT / "tests/node/electron_parent.js"), sys.executable, "--port", "0"]
    else:
        cmd = [sys.executable, str(ROOT / "tests/support/python_parent.py"), "--port", "0"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    ready = json.loads(proc.stdout.readline())
    assert ready["event"] == "ready", ready
    return proc, ready


needs_node = pytest.mark.skipif(node is None and os.environ.get("CI") != "true",
                                reason="Node.js not installed")


@pytest.mark.parametrize("kind", ["python", pytest.param("node", marks=needs_node)])
def test_sigkill_of_parent(tmp_path, runtime_dir, kind):
    proc, ready = start_parent(kind)
    try:
        ids = tree_ids(runtime_dir)
        assert psutil.Process(ready["pid"]).ppid() == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert_all_gone(runtime_dir, ids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_port_free_and_relaunch(tmp_path, port_of(ready["url"]))


@needs_node
def test_node_parent_sigterm_then_sigkill_sequence(tmp_path, runtime_dir):
    proc, ready = start_parent("node")
    try:
        ids = tree_ids(runtime_dir)
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        exit_event = json.loads(proc.stdout.readline())
        assert exit_event["event"] == "exit"
        assert not exit_event["sigkill_sent"], "the service needed SIGKILL"
        assert exit_event["after_ms"] < 2000, exit_event
        assert_all_gone(runtime_dir, ids)
    finally:
        proc.kill()
        proc.wait()
    assert_port_free_and_relaunch(tmp_path, port_of(ready["url"]))


def test_sigkill_of_worker_restarts_it(tmp_path, runtime_dir, speech_files):
    svc = start_service(tmp_path)
    try:
        url, old = svc.url, svc.worker_pid
        for round_ in range(1, 3):  # twice: no shared channel may survive a dead worker
            os.kill(old, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                st = httpx.get(url + "/v1/status", timeout=5).json()
                if st["state"] == "ready" and st["worker_pid"] not in (None, old):
                    break
                time.sleep(0.05)
            assert st["state"] == "ready" and st["restarts"] == round_, st
            with open(speech_files["fox"], "rb") as fh:
                r = httpx.post(url + "/v1/audio/transcriptions", files={"file": fh}, timeout=60)
            assert r.status_code == 200 and "lazy dog" in r.json()["text"].lower(), r.text
            assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE
            old = st["worker_pid"]
    finally:
        svc.stop()


def test_worker_obeys_sigterm(tmp_path, runtime_dir):
    """A worker forked from uvicorn's process would inherit its SIGTERM handler
    and ignore terminate(); ours is spawned fresh and dies."""
    svc = start_service(tmp_path)
    try:
        w = psutil.Process(svc.worker_pid)
        w.terminate()
        w.wait(3)
    finally:
        svc.stop()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_kill_while_model_loading(tmp_path, runtime_dir, sig):
    svc = start_service(tmp_path, wait_ready=False)
    try:
        rec = wait_worker_recorded()
        ids = tree_ids(runtime_dir) | {(rec.pid, rec.create_time)}
        assert svc.lines.empty(), "the model loaded before the kill: the test proves nothing"
        t0 = time.monotonic()
        os.kill(svc.pid, sig)
        code = svc.popen.wait(5)
        if sig == signal.SIGTERM:  # a clean stop, not the watchdog's hard exit
            assert code == 0 and time.monotonic() - t0 < 2.0, (code, svc.stderr_tail())
        assert_all_gone(runtime_dir, ids)
    finally:
        svc.stop()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_kill_during_transcription(tmp_path, runtime_dir, speech_files, sig):
    svc = start_service(tmp_path)
    outcome = {}

    def client():
        try:
            with open(speech_files["long"], "rb") as fh:
                r = httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": fh}, timeout=30)
            outcome["status"] = r.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = type(exc).__name__

    try:
        ids = tree_ids(runtime_dir)
        t = threading.Thread(target=client)
        t.start()
        w = psutil.Process(svc.worker_pid)
        deadline = time.monotonic() + 10
        while w.cpu_percent(0.05) < 20:  # wait until the worker is busy transcribing
            assert time.monotonic() < deadline, "the worker never got busy"
        t0 = time.monotonic()
        os.kill(svc.pid, sig)
        svc.popen.wait(5)
        t.join(10)
        assert not t.is_alive(), "the client hung"
        if sig == signal.SIGTERM:
            assert time.monotonic() - t0 < 2.0
            assert outcome.get("status") == 503 or "error" in outcome, outcome
        assert_all_gone(runtime_dir, ids)
    finally:
        svc.stop()
