"""Markers belong to a process only when its own parent gave them: a program
that merely inherited a tray's environment must not make a service join that
tray's tree (it would be swept with it, or keep a dead tree looking alive)."""
from __future__ import annotations

import os

import psutil

from service.safety import markers
from tests.support.service_proc import start_service


def test_inherited_markers_are_not_adopted(tmp_path):
    env = dict(os.environ, ASR_TRAY_ROLE="service", ASR_TRAY_INSTANCE="strangers-tree",
               ASR_TRAY_PARENT_PID="1")  # given to someone else, not by our parent
    svc = start_service(tmp_path, env=env)
    try:
        initial = psutil.Process(svc.pid).environ()
        assert initial["ASR_TRAY_INSTANCE"] != "strangers-tree"
        assert initial["ASR_TRAY_PARENT_PID"] == str(os.getpid())
    finally:
        svc.stop()


def test_markers_given_by_the_parent_are_kept(tmp_path):
    env = dict(os.environ, ASR_TRAY_ROLE="service", ASR_TRAY_INSTANCE="ourtree00001",
               ASR_TRAY_PARENT_PID=str(os.getpid()))
    svc = start_service(tmp_path, env=env)
    try:
        assert psutil.Process(svc.pid).environ()["ASR_TRAY_INSTANCE"] == "ourtree00001"
        assert psutil.Process(svc.worker_pid).environ()["ASR_TRAY_INSTANCE"] == "ourtree00001"
    finally:
        svc.stop()


def test_withdrawn_markers_are_remembered_but_not_inherited(monkeypatch):
    monkeypatch.setenv(markers.ROLE, "tray")
    monkeypatch.setenv(markers.INSTANCE, "traytree0001")
    monkeypatch.setattr(markers, "_withdrawn", {})
    markers.withdraw_from_environment()
    assert markers.ROLE not in os.environ and markers.INSTANCE not in os.environ
    assert markers.current_instance() == "traytree0001" and markers.current_role() == "tray"
