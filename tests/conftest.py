"""Shared fixtures. Every test runs with its own ASR_TRAY_RUNTIME_DIR, which
every process it starts inherits; after the test, anything still carrying that
directory in its environment is a leak: it is killed and the test fails.

Services come from one factory (tests/support/service_proc.py): `service`
for a plain one, `service_factory(*args)` for one with options, and
`module_service_factory` for a service shared by a module's tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import procs, speech  # noqa: E402
from tests.support.service_proc import LEAK_GRACE, ServiceFactory  # noqa: E402
from service.safety.markers import MARKERS  # noqa: E402


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path, monkeypatch):
    rt = tmp_path / "runtime"
    rt.mkdir()
    monkeypatch.setenv("ASR_TRAY_RUNTIME_DIR", str(rt))
    # Every tray a test starts reads its own empty settings, never the user's,
    # and speaks the language the tests' English texts expect.
    monkeypatch.setenv("ASR_TRAY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ASR_TRAY_UI_LANGUAGE", "en")
    for k in MARKERS:
        monkeypatch.delenv(k, raising=False)
    yield rt
    left = procs.wait_tree_gone(str(rt), LEAK_GRACE)
    if left:
        desc = [f"pid {p.pid} {' '.join(p.cmdline()[:4]) if p.is_running() else ''}" for p in left]
        procs.kill_all(left)
        pytest.fail(f"test leaked {len(left)} process(es) of its tree: {desc}")


@pytest.fixture(scope="session")
def speech_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    files = {k: speech.make_speech(d, k) for k in speech.SENTENCES}
    files["long"] = speech.concat(d / "long.wav", [files[k] for k in speech.SENTENCES], repeat=3)
    # minutes of speech: several seconds of compute even on a fast machine
    files["very_long"] = speech.concat(d / "very_long.wav", [files["long"]], gap_s=0.1, repeat=4)
    return files


@pytest.fixture
def service_factory(tmp_path, runtime_dir):
    """Call it with `asr-service serve` arguments; everything it started is
    stopped after the test and must leave no process behind."""
    factory = ServiceFactory(tmp_path, runtime_dir)
    yield factory
    factory.close()


@pytest.fixture
def service(service_factory):
    """A running service on the bundled model, stopped (and checked) after the test."""
    return service_factory()


@pytest.fixture(scope="module")
def module_service_factory(request, tmp_path_factory):
    """Like service_factory, for one service shared by a module's tests; it runs
    in a runtime directory of its own (the per-test one does not exist yet at
    module scope) and is stopped and checked at the module's end."""
    base = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    rt = base / "runtime"
    rt.mkdir()
    factory = ServiceFactory(base, rt)
    yield factory
    factory.close()


@pytest.fixture
def trays():
    """The trays (tests/support/desktop.TrayProc) a test starts: killed after it
    if still running, before the leak check looks."""
    started: list = []
    yield started
    for t in started:
        t.kill()
