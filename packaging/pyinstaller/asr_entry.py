"""The frozen app's one entry point, behind both executables of the bundle.

The bundle has two executables built from this script, `asr-tray` and
`asr-service` (.exe on Windows); the name a process was started under says
which app it is. On top of that it understands the command shapes the source
tree uses to start its own processes, so none of that code needs a frozen
branch:

- `--multiprocessing-fork ...` and `-c "from multiprocessing.resource_tracker
  import main..."`: the spawned worker and multiprocessing's resource tracker.
  A frozen executable is not a Python interpreter; freeze_support() (patched by
  PyInstaller's runtime hook on every OS) runs them here and exits.
- `-m service ARGS` and `-m gui ARGS`: the marker re-exec
  (service/safety/markers.py) and the tray starting its service
  (gui/controllers/service_process.py, models_catalog.py) run
  `sys.executable -m MODULE`; in the bundle sys.executable is one of ours.

When the tray's executable is asked for the service, POSIX exec()s the
`asr-service` next to it: the pid stays the one the tray started and watches,
and the process shows under its own name. Windows has no exec that keeps the
pid, so there the same process runs the service itself (it is then also not a
console program, so no console window opens).
"""
import multiprocessing
import os
import sys

MODULES = ("service", "gui")


def _wants(argv: list[str]) -> tuple[str, list[str]]:
    """(module, its arguments) from how we were started."""
    if len(argv) >= 2 and argv[0] == "-m" and argv[1] in MODULES:
        return argv[1], argv[2:]
    name = os.path.basename(sys.executable).lower()
    return ("service" if name.startswith("asr-service") else "gui"), argv


def _service_executable() -> str:
    here = os.path.dirname(sys.executable)
    return os.path.join(here, "asr-service.exe" if os.name == "nt" else "asr-service")


def run_service(argv: list[str]) -> int:
    me = os.path.basename(sys.executable).lower()
    sibling = _service_executable()
    if os.name == "posix" and not me.startswith("asr-service") and os.path.isfile(sibling):
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sibling, [sibling, *argv])   # same pid: the tray's child and lifeline stay
    from service.safety import lifeline

    # As `python -m service` does (service/__main__.py): on Windows join a
    # kill-on-close job before anything is started; a no-op elsewhere.
    lifeline.join_own_kill_on_close_job()
    from service.cli import main

    return main(argv)


def run_tray(argv: list[str]) -> int:
    from gui.app import main

    return main(argv)


def main() -> int:
    module, argv = _wants(sys.argv[1:])
    # What argparse and Qt see: our name, then the arguments of that app.
    sys.argv = [sys.argv[0], *argv]
    return run_service(argv) if module == "service" else run_tray(argv)


if __name__ == "__main__":
    # First: a spawned worker or resource tracker runs its code here and exits.
    multiprocessing.freeze_support()
    sys.exit(main())
