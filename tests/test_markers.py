"""Markers belong to a process only when its own parent gave them: a program
that merely inherited a tray's environment must not make a service join that
tray's tree (it would be swept with it, or keep a dead tree looking alive)."""
from __future__ import annotations

import os

import psutil

from service.safety import markers


def test_inherited_markers_are_not_adopted(service_factory):
    env = dict(os.environ, ASR_TRAY_ROLE="service", ASR_TRAY_INSTANCE="strangers-tree",
               ASR_TRAY_PARENT_PID="1")  # given to someone else, not by our parent
    svc = service_factory(env=env)
    initial = psutil.Process(svc.pid).environ()
    assert initial["ASR_TRAY_INSTANCE"] != "strangers-tree"
    assert initial["ASR_TRAY_PARENT_PID"] == str(os.getpid())


def test_markers_given_by_the_parent_are_kept(service_factory):
    env = dict(os.environ, ASR_TRAY_ROLE="service", ASR_TRAY_INSTANCE="ourtree00001",
               ASR_TRAY_PARENT_PID=str(os.getpid()))
    svc = service_factory(env=env)
    assert psutil.Process(svc.pid).environ()["ASR_TRAY_INSTANCE"] == "ourtree00001"
    assert psutil.Process(svc.worker_pid).environ()["ASR_TRAY_INSTANCE"] == "ourtree00001"


def test_withdrawn_markers_are_remembered_but_not_inherited(monkeypatch):
    monkeypatch.setenv(markers.ROLE, "tray")
    monkeypatch.setenv(markers.INSTANCE, "traytree0001")
    monkeypatch.setattr(markers, "_withdrawn", {})
    markers.withdraw_from_environment()
    assert markers.ROLE not in os.environ and markers.INSTANCE not in os.environ
    assert markers.current_instance() == "traytree0001" and markers.current_role() == "tray"
