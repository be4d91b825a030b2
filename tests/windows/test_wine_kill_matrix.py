"""Kill matrix of the Windows lane: the service tree runs as Windows processes
under wine (real service, supervisor, spawned worker, real model stack), and
every way the service can end must take the worker with it.

  * TerminateProcess from outside Windows: SIGKILL of the service's wine
    process from Linux -> its kill-on-close job ends the worker;
  * `taskkill /F` inside wine (TerminateProcess) -> the same;
  * SIGKILL of the first process (the mirror that re-executed the marked
    service as its child, in its own job) -> service and worker gone;
  * a plain Windows python parent that started the service, ended by
    `taskkill /F` or by SIGKILL of its wine process -> mirror, service and
    worker gone (the mirror watches its parent, its job does the rest);
  * CTRL_BREAK_EVENT on the service's console (SIGBREAK) -> everything gone;
  * graceful stop (POST /v1/shutdown with the token) -> everything gone;
  * the worker ended by `taskkill /F` -> the service starts a new one and
    serves again.

Each asserts zero survivors, seen from inside wine by a probe that holds a
handle on each process from before the kill (race-free, pid reuse cannot
fool it), and the fixture ends the prefix's wineserver afterwards.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support import speech
from tests.windows.conftest import CACHE, Probe, probe, wine_lane

# Targets of issue 9 are 0.5 s (kill) and 1 s (graceful); wine on a busy
# 2-core machine gets a margin, and the figure is printed for the report.
KILL_GONE_WITHIN = 3.0
GRACEFUL_GONE_WITHIN = 5.0


def _report(what: str, svc, seconds: float) -> None:
    print(f"\n[wine] {what}: ready after {svc.ready_seconds:.1f}s, worker gone "
          f"{seconds * 1000:.0f} ms after the kill")


def _assert_all_gone(result: dict, pids: list[int], t_kill: float, within: float) -> float:
    assert not result["alive"], f"still alive inside wine: {result['alive']}"
    assert not result["survivors"], f"python.exe survivors inside wine: {result['survivors']}"
    assert set(result["gone"]) == set(pids)
    worst = max(result["gone"].values()) - t_kill
    assert worst <= within, f"took {worst:.2f}s for {pids} to be gone (limit {within}s)"
    return worst


def test_sigkill_of_the_service_wine_process_ends_the_worker(wine_service):
    svc = wine_service()
    probe = Probe([svc.service_pid, svc.worker_pid])
    linux_service = svc.linux_service()
    t_kill = time.time()
    linux_service.send_signal(signal.SIGKILL)
    result = probe.result()
    took = _assert_all_gone(result, [svc.service_pid, svc.worker_pid], t_kill, KILL_GONE_WITHIN)
    _report("SIGKILL of the service's wine process", svc,
            result["gone"][svc.worker_pid] - t_kill)
    assert took >= 0


def test_taskkill_of_the_service_ends_the_worker(wine_service):
    svc = wine_service()
    probe = Probe([svc.service_pid, svc.worker_pid])
    cmd, env = wine_lane.python_cmd(CACHE)
    t_kill = time.time()
    res = subprocess.run([cmd[0], "taskkill", "/F", "/PID", str(svc.service_pid)], env=env,
                         input="", capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"taskkill failed: {res.stdout} {res.stderr[-500:]}"
    result = probe.result()
    # t_kill includes wine starting taskkill.exe (seconds): report the worker's
    # end relative to the service's end, which is what the job guarantees.
    gap = result["gone"][svc.worker_pid] - result["gone"][svc.service_pid]
    _assert_all_gone(result, [svc.service_pid, svc.worker_pid], t_kill, 120)
    assert gap <= KILL_GONE_WITHIN, f"worker outlived the service by {gap:.2f}s"
    _report("taskkill /F of the service (worker after service)", svc, gap)


def test_sigkill_of_the_first_process_ends_service_and_worker(wine_service):
    svc = wine_service()
    mirror = svc.mirror_pid()
    probe = Probe([mirror, svc.service_pid, svc.worker_pid])
    t_kill = time.time()
    svc.proc.send_signal(signal.SIGKILL)   # the mirror: nice and wine exec into it
    result = probe.result()
    _assert_all_gone(result, [mirror, svc.service_pid, svc.worker_pid], t_kill, KILL_GONE_WITHIN)
    _report("SIGKILL of the first (mirror) process", svc, result["gone"][svc.worker_pid] - t_kill)


def _taskkill(pid: int) -> None:
    cmd, env = wine_lane.python_cmd(CACHE)
    res = subprocess.run(["nice", "-n", "10", cmd[0], "taskkill", "/F", "/PID", str(pid)],
                         env=env, input="", capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"taskkill failed: {res.stdout} {res.stderr[-500:]}"


@pytest.mark.parametrize("how", ["taskkill", "sigkill"])
def test_killing_a_python_parent_ends_the_whole_tree(wine_service, how):
    svc = wine_service(parent=True)
    mirror, parent = svc.ancestors()
    tree = [parent, mirror, svc.service_pid, svc.worker_pid]
    probe_ = Probe(tree)
    t_kill = time.time()
    if how == "taskkill":
        _taskkill(parent)   # TerminateProcess from inside wine
    else:
        svc.proc.send_signal(signal.SIGKILL)   # the parent's wine process, from Linux
    result = probe_.result()
    _assert_all_gone(result, tree, t_kill, 120 if how == "taskkill" else KILL_GONE_WITHIN)
    gap = result["gone"][svc.worker_pid] - result["gone"][parent]
    assert gap <= KILL_GONE_WITHIN, f"the worker outlived its parent by {gap:.2f}s"
    _report(f"{how} of a Python parent (worker after parent)", svc, gap)


def test_ctrl_break_stops_everything(wine_service):
    svc = wine_service()
    mirror = svc.mirror_pid()
    tree = [mirror, svc.service_pid, svc.worker_pid]
    probe_ = Probe(tree)
    t_break = time.time()
    sent = probe("break", str(svc.service_pid))
    if not sent["sent"]:
        # Wine 8 cannot deliver it (verified): a process started with pipes has
        # no console, so AttachConsole fails with ERROR_INVALID_HANDLE (6); in a
        # console made with CREATE_NEW_CONSOLE, GenerateConsoleCtrlEvent fails
        # with the same error. The stop it would cause is covered by the
        # graceful test; the tree is ended by the fixture.
        assert sent["error"] == 6, f"CTRL_BREAK_EVENT failed in a new way under wine: {sent}"
        pytest.skip(f"wine 8 cannot deliver CTRL_BREAK_EVENT (no console; {sent})")
    result = probe_.result()
    _assert_all_gone(result, tree, t_break, GRACEFUL_GONE_WITHIN + 10)   # + the probe's start
    _report("CTRL_BREAK_EVENT on the console", svc,
            result["gone"][svc.worker_pid] - result["gone"][mirror])


def test_a_killed_worker_is_restarted(wine_service):
    svc = wine_service()
    old = svc.worker_pid
    probe_ = Probe([old])
    _taskkill(old)
    result = probe_.result()
    assert not result["alive"], result
    deadline = time.monotonic() + 240   # a new worker loads the model again, under wine
    status, health = svc.health()
    while not (status == 200 and health["asr_worker"]["worker_pid"] not in (None, old)):
        assert time.monotonic() < deadline, f"no new worker: {status} {health}"
        time.sleep(1)
        status, health = svc.health()
    new = health["asr_worker"]["worker_pid"]
    assert health["asr_worker"]["worker_restarts"] >= 1, health
    assert svc.get("/v1/status")["worker_pid"] == new
    print(f"\n[wine] worker {old} killed -> new worker {new} serving")


def test_graceful_shutdown_ends_everything(wine_service):
    svc = wine_service()
    mirror = svc.mirror_pid()
    probe = Probe([mirror, svc.service_pid, svc.worker_pid])
    t_stop = time.time()
    assert svc.post("/v1/shutdown") in (200, 202)
    result = probe.result()
    _assert_all_gone(result, [mirror, svc.service_pid, svc.worker_pid], t_stop,
                     GRACEFUL_GONE_WITHIN)
    assert svc.proc.wait(30) == 0, "the mirror must pass on the service's exit code 0"
    _report("POST /v1/shutdown", svc, result["gone"][svc.worker_pid] - t_stop)


def test_the_real_model_stack_transcribes_under_wine(wine_service, tmp_path):
    """Not a stand-in: faster-whisper, Silero VAD through onnxruntime and PyAV's
    file decoding all run in the Windows worker."""
    svc = wine_service()
    health = svc.get("/health")
    assert health["status"] == "ok" and health["vad_model_loaded"], health
    text = "The quick brown fox jumps over the lazy dog"
    wav = speech.speak(tmp_path / "fox.wav", text)
    boundary = "wine-lane-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fox.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + wav.read_bytes() + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            f"whisper-1\r\n--{boundary}--\r\n").encode()
    req = urllib.request.Request(svc.url + "/v1/audio/transcriptions", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        got = json.loads(r.read())["text"]
    assert speech.wer(text, got) <= 0.35, got  # the bound every fox test uses (tiny.en, int8)
