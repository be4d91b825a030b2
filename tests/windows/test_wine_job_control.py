"""The Windows lane can fail: with the job switched off (ASR_TRAY_TEST_NO_JOB=1,
a test aid of service/safety/lifeline.py) the worker outlives a killed service,
and the same observation with the job on sees it gone. The worker is suspended
before the kill, as if native code held the GIL: its lifeline thread (L1)
cannot run then, so only the kernel's job (L0) can end it, and these tests
measure L0 alone.

The orphan is then what `python -m service leftovers` exists for: found
through the registry under wine and ended with --kill. Each test ends its
orphan itself; the fixture then proves nothing of the tree is left.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.windows.conftest import Probe, probe, run_windows_python, wine_lane

NO_JOB = {"ASR_TRAY_TEST_NO_JOB": "1"}


def _kill_service_with_worker_frozen(svc) -> dict:
    """Suspend the worker, SIGKILL the service's wine process, and watch."""
    assert probe("suspend", str(svc.worker_pid))["suspended"] == [svc.worker_pid]
    watch = Probe([svc.service_pid, svc.worker_pid], timeout=5)
    t_kill = time.time()
    svc.linux_service().send_signal(signal.SIGKILL)
    result = watch.result()
    result["t_kill"] = t_kill
    return result


@pytest.mark.parametrize("job", ["on", "off"])
def test_only_the_job_ends_a_frozen_worker(wine_service, job):
    svc = wine_service(extra_env=None if job == "on" else NO_JOB)
    result = _kill_service_with_worker_frozen(svc)
    assert svc.service_pid in result["gone"], result
    if job == "on":
        assert not result["alive"], f"the job did not end the frozen worker: {result}"
        took = result["gone"][svc.worker_pid] - result["t_kill"]
        print(f"\n[wine] frozen worker ended by the job {took * 1000:.0f} ms after the kill")
        assert took <= 3.0
        return
    # The control: nothing but the job could have ended it, and it is still there.
    assert result["alive"] == [svc.worker_pid], f"expected the orphaned worker: {result}"
    assert probe("kill", str(svc.worker_pid))["killed"] == [svc.worker_pid]
    print(f"\n[wine] without the job the frozen worker {svc.worker_pid} was orphaned (control)")


def _leftovers(runtime_dir, *args: str) -> tuple[int, dict]:
    res = run_windows_python("-m", "service", "leftovers", "--json", *args,
                             extra_env={"ASR_TRAY_RUNTIME_DIR": wine_lane.winpath(runtime_dir)})
    start = res.stdout.find("{")
    assert start >= 0, f"leftovers printed no JSON (rc {res.returncode}): {res.stdout} {res.stderr[-1500:]}"
    return res.returncode, json.loads(res.stdout[start:])


def test_leftovers_finds_and_kills_the_orphan_under_wine(wine_service, runtime_dir):
    svc = wine_service(extra_env=NO_JOB)
    result = _kill_service_with_worker_frozen(svc)
    assert result["alive"] == [svc.worker_pid], f"expected the orphaned worker: {result}"
    rc, found = _leftovers(runtime_dir)
    pids = {l["pid"]: l for l in found["leftovers"]}
    assert svc.worker_pid in pids, f"leftovers did not list the orphan {svc.worker_pid}: {found}"
    assert pids[svc.worker_pid]["role"] == "worker", pids[svc.worker_pid]
    watch = Probe([svc.worker_pid], timeout=30)
    rc, report = _leftovers(runtime_dir, "--kill")
    assert rc == 0, f"leftovers --kill left survivors: {report}"
    gone = watch.result()
    assert not gone["alive"], f"leftovers --kill did not end the orphan: {gone} {report}"
    print(f"\n[wine] leftovers --kill: {report}")


@pytest.mark.parametrize("switch", ["default", "no job"])
def test_a_child_is_in_the_job_before_its_first_instruction(lane, switch):
    """Race-free membership: the process joins its own job first, so a child
    created suspended (it has run nothing yet) is already in it."""
    script = wine_lane.winpath(Path(__file__).with_name("job_membership.py"))
    res = run_windows_python(script, extra_env=NO_JOB if switch == "no job" else None)
    assert res.returncode == 0, res.stderr[-1500:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    if switch == "default":
        assert got == {"joined": True, "asked": True, "in_job_before_running": True,
                       "bind_child_to_us": True, "joined_again": True}, got
    else:   # the test aid turns every job function off
        assert got == {"joined": False, "asked": False, "in_job_before_running": False,
                       "bind_child_to_us": False, "joined_again": False}, got
