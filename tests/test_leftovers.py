"""`asr-service leftovers`: finds processes of trees that lost their top and
ends only those; decoys (a look-alike name, a reused pid in a record, a live
standalone service) are left alone. Also the registry records themselves.

The default scan is machine-wide (every runtime dir); these tests run beside
others, so every call that could see or end their processes passes
`--runtime-dir` with the test's own directory. Nothing here ends a process
this test did not start."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil

from service.safety import registry


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", *args], capture_output=True,
                          text=True, timeout=60)


def mine(*args) -> subprocess.CompletedProcess:
    """`asr-service leftovers ARGS` narrowed to this test's runtime dir."""
    return cli("leftovers", "--runtime-dir", os.environ["ASR_TRAY_RUNTIME_DIR"], *args)


def sleeper(env_extra: dict | None = None, argv0: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, **(env_extra or {}))
    cmd = ["bash", "-c", f"exec -a {argv0 or 'sleep'} sleep 120"]
    return subprocess.Popen(cmd, env=env)


def test_records_written_and_removed(service):
    svc = service
    recs = {r.role: r for r in registry.read_all()}
    assert recs["service"].pid == svc.pid and recs["worker"].pid == svc.worker_pid
    assert recs["service"].instance == recs["worker"].instance != ""
    assert recs["service"].extra["url"] == svc.url
    assert abs(recs["worker"].create_time - psutil.Process(svc.worker_pid).create_time()) < 0.05
    out = json.loads(mine("--json").stdout)
    assert out["leftovers"] == []
    alive = {(r["role"], r["pid"]) for r in out["records"] if r["alive"]}
    assert {("service", svc.pid), ("worker", svc.worker_pid)} <= alive
    assert ("resource-tracker", svc.pid) in {(r["role"], r["parent_pid"]) for r in out["records"]}
    svc.stop()
    assert registry.read_all() == [], "a clean exit removes its records (the tracker's too)"


def test_kill_leftovers_spares_decoys_and_live_trees(service):
    svc = service  # a live standalone tree: its parent (pytest) lives
    orphan = sleeper({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": "deadtree0001"})
    lookalike = sleeper(argv0="asr-worker")  # the name says ours, no markers
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        reused = psutil.Process(lookalike.pid)
        regdir = registry.registry_dir()
        # A record whose pid now belongs to another process (create_time differs).
        (regdir / "worker-reused.json").write_text(json.dumps({
            "pid": lookalike.pid, "create_time": reused.create_time() - 1000, "role": "worker",
            "instance": "oldtree"}))
        # A record of a process that is gone.
        (regdir / "worker-gone.json").write_text(json.dumps({
            "pid": dead.pid, "create_time": time.time() - 50, "role": "worker", "instance": "oldtree"}))
        time.sleep(0.2)

        listed = json.loads(mine("--json").stdout)
        pids = {l["pid"] for l in listed["leftovers"]}
        assert pids == {orphan.pid}, listed
        assert listed["leftovers"][0]["role"] == "worker"
        assert listed["leftovers"][0]["gpu_memory"] in ("no GPU", "-")

        report = json.loads(mine("--kill", "--json").stdout)
        assert [e["pid"] for e in report["ended"]] == [orphan.pid]
        assert report["stale_records_removed"] == 2
        assert "Ended 1 leftover" in report["message"]
        assert orphan.wait(5) is not None
        assert lookalike.poll() is None, "a look-alike without markers was killed"
        assert psutil.pid_exists(svc.pid) and psutil.pid_exists(svc.worker_pid)
        assert not (regdir / "worker-reused.json").exists()
        again = mine()
        assert "No leftover processes." in again.stdout
    finally:
        for p in (orphan, lookalike):
            p.kill()
            p.wait()


def test_status_command_lists_running_service(service):
    svc = service
    out = json.loads(cli("status", "--json").stdout)
    [entry] = out["services"]
    assert entry["pid"] == svc.pid and entry["status"]["worker_pid"] == svc.worker_pid
    text = cli("status").stdout
    assert f"service pid {svc.pid}" in text and "ready" in text
    svc.stop()
    assert "No ASR service is running." in cli("status").stdout


def test_stdin_lifeline(service_factory):
    """The tray's lifeline: closing the service's stdin stops the whole tree."""
    svc = service_factory("--lifeline-stdin", stdin=subprocess.PIPE)
    worker = psutil.Process(svc.worker_pid)
    t0 = time.monotonic()
    svc.popen.stdin.close()
    assert svc.popen.wait(5) == 0
    worker.wait(2)
    assert time.monotonic() - t0 < 2.5


def test_a_leftover_of_another_runtime_dir_is_found_by_default(tmp_path, runtime_dir):
    """A marked orphan worker started under another ASR_TRAY_RUNTIME_DIR (an
    Electron app's service, a portable install) is found by the default scan
    and listed with its runtime dir, command line and start time;
    `--runtime-dir` filters it out; ended with --kill narrowed to its dir."""
    from tests.support import desktop

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    orphan = desktop.orphan({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": "gone0000elsewhere",
                             "ASR_TRAY_PARENT_PID": str(desktop.exited_pid()),
                             "ASR_TRAY_RUNTIME_DIR": str(elsewhere)},
                            argv_tail=("asr-worker-of-another-install",))
    try:
        listed = json.loads(cli("leftovers", "--json").stdout)   # machine-wide: look, never kill
        [found] = [l for l in listed["leftovers"] if l["pid"] == orphan.pid]
        assert found["role"] == "worker" and found["runtime_dir"] == str(elsewhere), found
        assert "asr-worker-of-another-install" in found["cmdline"], found
        assert found["started"] == time.strftime("%Y-%m-%d %H:%M:%S",
                                                 time.localtime(orphan.create_time()))
        text = cli("leftovers").stdout
        assert f"pid {orphan.pid}" in text and f"runtime dir {elsewhere}" in text, text

        narrowed = json.loads(mine("--json").stdout)
        assert orphan.pid not in {l["pid"] for l in narrowed["leftovers"]}
        assert mine("--kill").returncode == 0
        assert orphan.is_running(), "--runtime-dir of another dir must not end it"

        report = json.loads(cli("leftovers", "--runtime-dir", str(elsewhere), "--kill",
                                "--json").stdout)
        assert [e["pid"] for e in report["ended"]] == [orphan.pid], report
        assert orphan.wait(5) is None or not orphan.is_running()
    finally:
        desktop.end(orphan)
