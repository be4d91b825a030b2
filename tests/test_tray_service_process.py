"""The tray's service state machine and its one quit path, against real
service processes (offscreen Qt, no desktop needed)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import psutil  # noqa: E402
import pytest  # noqa: E402

from gui.controllers.quit_sequence import QuitSequence  # noqa: E402
from gui.controllers.service_process import ServiceProcess, State  # noqa: E402
from gui.controllers.sweep import sweep  # noqa: E402
from service.safety import registry  # noqa: E402
from service.safety.processes import marked_processes  # noqa: E402
from tests.support import desktop  # noqa: E402

READY_S = 90_000  # ms


@pytest.fixture
def instance(monkeypatch):
    """This test process plays the tray: it carries an instance id its children inherit."""
    inst = "t" + uuid.uuid4().hex[:11]
    monkeypatch.setenv("ASR_TRAY_INSTANCE", inst)
    return inst


@pytest.fixture
def service_process(qtbot, instance):
    sp = ServiceProcess()
    yield sp
    if sp.is_alive():
        with qtbot.waitSignal(sp.stopped, timeout=5000):
            sp.stop()


def tree_of(instance: str) -> list:
    return [m for m in marked_processes() if m.instance == instance]


def start_running(qtbot, sp: ServiceProcess) -> None:
    with qtbot.waitSignal(sp.state_changed, timeout=READY_S,
                          check_params_cb=lambda s: s in ("running", "error")):
        assert sp.start()
    assert sp.state == State.RUNNING, sp.error


def test_start_runs_one_marked_service_then_stop_leaves_nothing(qtbot, service_process, instance):
    sp = service_process
    states = []
    sp.state_changed.connect(states.append)
    start_running(qtbot, sp)
    assert sp.url.startswith("http://127.0.0.1:")
    roles = {m.pid: m for m in tree_of(instance)}
    service, worker = roles[sp.pid], roles[sp.worker_pid]
    assert service.role == "service" and worker.role == "worker"
    assert service.proc.ppid() == os.getpid()          # our child, spawned by us
    assert worker.proc.ppid() == sp.pid
    assert service.parent_pid_env == os.getpid()
    env = service.proc.environ()
    assert env["ASR_TRAY_TOKEN"] == sp.token and sp.token not in " ".join(service.proc.cmdline())

    # a second start while running does not start a second service
    assert sp.start() is False
    assert [m.pid for m in tree_of(instance) if m.role == "service" and m.proc.ppid() == os.getpid()] == [sp.pid]

    t0 = time.monotonic()
    with qtbot.waitSignal(sp.stopped, timeout=5000):
        assert sp.stop()
    assert time.monotonic() - t0 < 1.6, "the stdin lifeline should stop the service promptly"
    assert states == ["starting", "running", "stopping", "stopped"]
    report = sweep(instance)
    assert not report.worth_telling, report.sentence()
    assert tree_of(instance) == []


def test_restart_replaces_the_service(qtbot, service_process, instance):
    sp = service_process
    start_running(qtbot, sp)
    old_pid, old_worker = sp.pid, sp.worker_pid
    seen = []
    sp.state_changed.connect(seen.append)
    ticks = []
    from PySide6.QtCore import QTimer

    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start(20)
    with qtbot.waitSignal(sp.state_changed, timeout=READY_S,
                          check_params_cb=lambda s: s == "running"):
        sp.restart()
    heartbeat.stop()
    assert seen == ["stopping", "stopped", "starting", "running"]
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    # the UI loop keeps turning while the service stops, starts and loads its model
    assert len(ticks) > 20 and max(gaps) < 0.5, f"longest event-loop stall {max(gaps):.3f}s"
    assert sp.pid != old_pid and sp.worker_pid != old_worker
    assert not psutil.pid_exists(old_worker) or psutil.Process(old_worker).status() == psutil.STATUS_ZOMBIE


def test_a_model_that_cannot_load_is_an_error_with_a_reason(qtbot, service_process, tmp_path):
    sp = service_process
    sp.model = str(tmp_path / "no-such-model")
    with qtbot.waitSignal(sp.failed, timeout=READY_S) as failed:
        sp.start()
    message = failed.args[0]
    assert message.startswith("The ASR service could not start:")
    assert len(message.split()) > 8, message
    qtbot.waitUntil(lambda: not sp.is_alive(), timeout=5000)
    assert sp.state == State.ERROR and sp.error == message
    # Start works again from the error state.
    sp.model = None
    start_running(qtbot, sp)


HANGING_SERVICE = r"""
import json, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(json.dumps({"event": "ready", "url": "http://127.0.0.1:9", "pid": os.getpid(),
                  "worker_pid": None}), flush=True)
while True:
    time.sleep(1)   # ignores stdin EOF and SIGTERM: only SIGKILL ends it
"""


class HangingService(ServiceProcess):
    def command(self) -> list[str]:
        return [sys.executable, "-c", HANGING_SERVICE]


def test_quit_is_bounded_when_the_service_hangs(qtbot, instance):
    sp = HangingService()
    with qtbot.waitSignal(sp.state_changed, timeout=20000, check_params_cb=lambda s: s == "running"):
        sp.start()
    pid = sp.pid
    seq = QuitSequence(sp, instance, exit_hard=lambda code: None)
    t0 = time.monotonic()
    with qtbot.waitSignal(seq.done, timeout=4000) as done:
        seq.begin("test")
    elapsed = time.monotonic() - t0
    assert elapsed < 2.6, f"quit took {elapsed:.2f}s with a hanging service"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert done.args[0] is not None


def test_sweep_ends_survivors_of_our_instance_only(qtbot, instance, runtime_dir):
    ours = desktop.orphan({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": instance},
                          role_record="worker")
    other = desktop.orphan({"ASR_TRAY_ROLE": "worker", "ASR_TRAY_INSTANCE": "someone-else"})
    unrelated = desktop.orphan({})
    # a record of our instance whose pid now belongs to an unrelated process
    reused = desktop.write_record(unrelated.pid, unrelated.create_time() - 1000, "service", instance)
    try:
        report = sweep(instance)
        assert [s.pid for s in report.killed] == [ours.pid]
        assert report.worth_telling and str(ours.pid) in report.sentence()
        assert not ours.is_running() or ours.status() == psutil.STATUS_ZOMBIE
        assert other.is_running() and unrelated.is_running()
        assert not reused.exists(), "a stale record of our instance is pruned"
        assert not [r for r in registry.read_all() if r.instance == instance]
    finally:
        desktop.end(ours, other, unrelated)


def test_quit_watchdog_kills_and_exits_when_cleanup_stalls(qtbot, instance):
    sp = HangingService()
    with qtbot.waitSignal(sp.state_changed, timeout=20000, check_params_cb=lambda s: s == "running"):
        sp.start()
    pid = sp.pid
    exited = []
    seq = QuitSequence(sp, instance, hard_deadline_s=0.3, exit_hard=exited.append)
    # Stop the stop: the escalation timers never get to run, as if the UI hung.
    sp._terminate_timer.setInterval(60_000)
    sp._kill_timer.setInterval(60_000)
    seq.begin("test")
    qtbot.waitUntil(lambda: exited == [1], timeout=3000)
    qtbot.waitUntil(lambda: not sp.is_alive(), timeout=3000)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_about_to_quit_without_our_quit_still_cleans_up(qtbot, qapp, instance):
    """A session manager may end the loop itself: aboutToQuit then runs the
    cleanup synchronously (the loop is gone), bounded."""
    import types

    from gui.tray_app import TrayApp

    opts = types.SimpleNamespace(model=None, device=None, no_start=False, no_tray=False)
    app = TrayApp(qapp, opts, use_tray=False, exit_hard=lambda code: None,
                  end_loop=lambda: None)  # pytest-qt's app must keep its loop
    _KEEP.append(app)
    qtbot.addWidget(app.ui)
    with qtbot.waitSignal(app.service.state_changed, timeout=READY_S,
                          check_params_cb=lambda s: s == "running"):
        app.start(signals=False)
    assert len(tree_of(instance)) >= 2
    t0 = time.monotonic()
    app.final_cleanup()
    assert time.monotonic() - t0 < 2.5
    assert tree_of(instance) == []
    assert app.quit_sequence.finished
    app.final_cleanup()  # idempotent
    app.poller._thread.join(3)


_KEEP: list = []


def test_a_service_that_dies_is_an_error_and_takes_its_worker(qtbot, service_process, instance):
    sp = service_process
    start_running(qtbot, sp)
    worker = psutil.Process(sp.worker_pid)
    with qtbot.waitSignal(sp.failed, timeout=5000) as failed:
        os.kill(sp.pid, 9)
    assert failed.args[0].startswith("The ASR service stopped unexpectedly (exit code")
    assert "Start" in failed.args[0] and f"service.log and worker.log in {registry.log_dir()}" in failed.args[0]
    assert "last message" not in failed.args[0], "a SIGKILLed service said nothing last"
    assert sp.state == State.ERROR and sp.url is None
    psutil.wait_procs([worker], timeout=3)
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert sp.start(), "Start works from the error state"
    qtbot.waitUntil(lambda: sp.state == State.RUNNING, timeout=READY_S)


CHATTY_THEN_FAILING_SERVICE = r"""
import sys
for i in range(20000):
    print(f"line {i} of a service that talks a lot", file=sys.stderr)
print("x" * 100000, file=sys.stderr)
sys.exit("The model folder /nowhere cannot be read")
"""


class ChattyFailingService(ServiceProcess):
    def command(self) -> list[str]:
        return [sys.executable, "-c", CHATTY_THEN_FAILING_SERVICE]


def test_the_services_stderr_is_a_bounded_tail_quoted_when_it_dies(qtbot, instance, runtime_dir):
    sp = ChattyFailingService()
    with qtbot.waitSignal(sp.failed, timeout=20000) as failed:
        sp.start()
    message = failed.args[0]
    assert message.startswith("The ASR service stopped unexpectedly (exit code 1).")
    assert 'Its last message: "The model folder /nowhere cannot be read".' in message
    assert f"service.log and worker.log in {registry.log_dir()}" in message
    lines = sp.stderr_tail.lines()
    assert 0 < len(lines) <= 40 and all(len(line) <= 400 for line in lines), len(lines)
    assert lines[-1] == "The model folder /nowhere cannot be read"
    assert lines[0].startswith("line 19"), "the tail keeps the newest lines"
    # no copy of the stream on disk: the service and the worker keep their own logs
    assert not list(registry.log_dir().glob("*stderr*"))
