#!/usr/bin/env python3
"""The two commands of the README, for Windows, Linux and macOS.

    python packaging/dev.py run    set up .venv and start the tray app
                                   (no display: the service alone, said so)
    python packaging/dev.py test   set up .venv (+ system packages on Linux),
                                   start a virtual desktop, tray host and
                                   microphone, run every test, stop them.
                                   On Linux that includes the Windows lane
                                   (tests/windows, the service tree as Windows
                                   processes under wine; packaging/wine_lane.py
                                   sets it up, cached in ~/.cache/asr-tray-wine),
                                   run by the same pytest after everything else
    python packaging/dev.py bundle     build the one-folder app, dist/asr-tray/ (PyInstaller,
                                       the [bundle] extra; reused while nothing changed);
                                       options go to packaging/pyinstaller/build.py
                                       (--force, --no-base); docs/bundle.md
    python packaging/dev.py install    Linux: build the bundle if needed, then install its
                                       menu entry and icon for this user
                                       ($XDG_DATA_HOME, else ~/.local/share)
    python packaging/dev.py uninstall  remove that menu entry and icon again

Standard library only: it runs before anything is installed.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
TORCH = "torch==2.13.0"  # pinned and first: a loose torch pulls a multi-GB CUDA build
APT_PACKAGES = (
    "espeak-ng sox libportaudio2 xvfb trayer xdotool imagemagick pulseaudio pulseaudio-utils "
    "libxcb-cursor0 libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 "
    "libxcb-randr0 libxcb-render-util0 libxcb-image0 libgl1 libfontconfig1 libdbus-1-3 "
    "nodejs x11-utils fonts-wqy-microhei"  # CJK glyphs for the zh_CN interface
).split()
# The Windows lane (tests/windows): wine runs the official Windows CPython;
# mingw builds its one shim DLL. Linux only: Windows runs those tests natively.
WINE_PACKAGES = ("wine64", "wine", "gcc-mingw-w64-x86-64-win32")


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list, **kw) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def run_quiet(cmd: list, what: str) -> None:
    """Run pip without its chatter (setuptools' editable-install banner among it);
    show everything it said only when it fails."""
    res = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, errors="replace")
    if res.returncode != 0:
        print(res.stdout[-6000:], file=sys.stderr)
        raise SystemExit(f"[dev] {what} failed (pip's output above). Check the network or the "
                         "package index, then run the same command again.")


def install_stamp(extras: str) -> str:
    """What the installed environment depends on: the project's metadata and the
    Python running it. The install is editable, so source changes need no
    reinstall; a change here does."""
    import hashlib

    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(f"{sys.version}|{extras}|{TORCH if extras else ''}".encode())
    return digest.hexdigest()


def ensure_venv(extras: str = "") -> Path:
    py = venv_python()
    stamp_file = VENV / ".asr-tray-installed"
    if not py.exists():
        say(f"creating {VENV}")
        run([sys.executable, "-m", "venv", VENV])
        run_quiet([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], "upgrading pip")
    # A "test" install is a superset of the plain one: either satisfies `run`.
    done = stamp_file.read_text().split() if stamp_file.exists() else []
    wanted = install_stamp(extras)
    if wanted in done or (not extras and install_stamp("test") in done):
        return py
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if extras:
        say(f"installing {TORCH} first (CPU build)")
        run_quiet([*pip, TORCH], f"installing {TORCH}")
    say("installing the project" + (f" with [{extras}]" if extras else "")
        + " (once; later starts skip this until pyproject.toml changes)")
    run_quiet([*pip, "-e", f"{ROOT}[{extras}]" if extras else str(ROOT)], "installing the project")
    stamp_file.write_text(wanted + "\n")
    return py


def free_port(first: int = 8765, tries: int = 20) -> int:
    """The port the service will really get: 8765, else the next free one
    (the same search `asr-service serve --port-search` does)."""
    import socket

    for port in range(first, first + tries + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"[dev] ports {first}-{first + tries} are all in use on 127.0.0.1: stop "
                     "the program holding them, or pass --port N to choose another.")


def have_display() -> bool:
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_run(args: list[str]) -> int:
    py = ensure_venv()
    scripts = py.parent
    if have_display():
        say("starting the tray app (asr-tray)")
        return subprocess.call([str(scripts / ("asr-tray.exe" if os.name == "nt" else "asr-tray")), *args])
    port = free_port()
    taken = "" if port == 8765 else " (8765 is in use by another program)"
    say(f"no display found (DISPLAY/WAYLAND_DISPLAY unset): the tray cannot show, so the "
        f"service runs alone on http://127.0.0.1:{port}{taken} on the bundled tiny.en model. "
        f"Open http://127.0.0.1:{port}/docs in a browser; Ctrl+C stops it.")
    return subprocess.call([str(py), "-m", "service", "serve", "--port", str(port), *args])


# ------------------------------------------------------------------ tests
def apt_install() -> None:
    if not sys.platform.startswith("linux") or not shutil.which("apt-get"):
        say("not Debian/Ubuntu: install espeak-ng, sox, PortAudio, Xvfb, trayer, xdotool, "
            "PulseAudio and Node.js yourself; tests needing what is missing are skipped")
        return
    missing = [p for p in (*APT_PACKAGES, *WINE_PACKAGES)
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    say("installing system packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*sudo, "apt-get", "update", "-qq"], env=env)
    run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env,
        stdout=subprocess.DEVNULL)


class Desktop:
    """Xvfb + trayer + a PulseAudio whose default source is a FIFO (shared/TESTING.md)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.pulse_pid: int | None = None
        self.env: dict[str, str] = {}

    def start(self) -> dict[str, str]:
        if not sys.platform.startswith("linux"):
            return {}
        if shutil.which("Xvfb"):
            display = self._free_display()
            self.procs.append(subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24",
                                                "-nolisten", "tcp"], stderr=subprocess.DEVNULL))
            self._wait(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), "Xvfb")
            self.env["DISPLAY"] = display
            if shutil.which("trayer"):
                self.procs.append(subprocess.Popen(
                    ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                     "--height", "24"], env=dict(os.environ, DISPLAY=display),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                self.env["ASR_TRAY_TEST_TRAY_HOST"] = "trayer"
            time.sleep(0.5)
        if shutil.which("pulseaudio"):
            xdg = tempfile.mkdtemp(prefix="asr-pulse-")
            os.chmod(xdg, 0o700)
            # module-pipe-source makes the FIFO itself and refuses one that exists.
            fifo = Path(xdg) / "mic.fifo"
            env = dict(os.environ, XDG_RUNTIME_DIR=xdg)
            subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                            "--load=module-native-protocol-unix",
                            "--load=module-null-sink sink_name=out",
                            f"--load=module-pipe-source source_name=vmic file={fifo} "
                            "format=s16le rate=16000 channels=1"],
                           env=env, stderr=subprocess.DEVNULL, check=False)
            ok = self._wait(lambda: fifo.exists() and subprocess.run(
                ["pactl", "info"], env=env, capture_output=True).returncode == 0,
                "pulseaudio with its FIFO microphone", fatal=False)
            if ok:
                subprocess.run(["pactl", "set-default-source", "vmic"], env=env, check=False)
                pid = (Path(xdg) / "pulse" / "pid").read_text().strip()  # the daemon's own
                self.pulse_pid = int(pid) if pid.isdigit() else None
                self.env.update(XDG_RUNTIME_DIR=xdg, ASR_TRAY_TEST_MIC_FIFO=str(fifo))
        return self.env

    @staticmethod
    def _free_display() -> str:
        for n in range(77, 200):
            if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
                return f":{n}"
        raise RuntimeError("no free X display number")

    @staticmethod
    def _wait(check, what: str, timeout: float = 10.0, fatal: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.1)
        if fatal:
            raise RuntimeError(f"{what} did not start within {timeout:.0f}s")
        say(f"{what} did not start; tests that need it will be skipped")
        return False

    def stop(self) -> None:
        if self.pulse_pid:
            try:
                os.kill(self.pulse_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def wine_lane_setup() -> None:
    """Set up the Windows lane before pytest runs, so its one-time cost (the
    Windows CPython and wheels from the package index, a wine prefix) shows
    here with its own messages; afterwards it is a cached check. If it cannot
    be set up, tests/windows says why (skipped here, failed on CI)."""
    if not sys.platform.startswith("linux"):
        return
    if shutil.which("wine") is None and shutil.which("wine64") is None:
        say("wine is missing: the Windows lane (tests/windows) will be skipped")
        return
    say("setting up the Windows lane (packaging/wine_lane.py setup; cached)")
    code = subprocess.call([sys.executable, str(ROOT / "packaging" / "wine_lane.py"), "setup"],
                           stdout=subprocess.DEVNULL)
    if code != 0:
        say("the Windows lane could not be set up (see above): tests/windows reports it")


def cmd_test(args: list[str]) -> int:
    apt_install()
    py = ensure_venv("test")
    ensure_bundle_tools(py)   # tests/test_bundle.py builds the frozen app
    wine_lane_setup()
    desktop = Desktop()
    try:
        env = dict(os.environ, **desktop.start())
        env.pop("QT_QPA_PLATFORM", None)
        cmd = [str(py), "-m", "pytest", "-ra", *args]
        say("running: " + " ".join(cmd))
        code = subprocess.call(cmd, cwd=ROOT, env=env)
    finally:
        desktop.stop()
    if code == 5:
        say("pytest collected no tests: that is a failure here")
        return 1
    return code


# ------------------------------------------------------------------ the bundle
BUNDLE_BUILD = ROOT / "packaging" / "pyinstaller" / "build.py"
BUNDLE_DIR = ROOT / "dist" / "asr-tray"
DESKTOP_TEMPLATE = ROOT / "packaging" / "linux" / "asr-tray.desktop"
APP_ICON = ROOT / "resources" / "tray-running.svg"
APP_ID = "asr-tray"


def bundle_requirements() -> list[str]:
    """The [bundle] extra of pyproject.toml (read by hand: tomllib is 3.11+)."""
    import re

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r"^bundle\s*=\s*\[(.*?)\]", text, re.M | re.S)
    if not m:
        raise SystemExit("[dev] pyproject.toml has no [bundle] extra: restore it "
                         '(bundle = ["pyinstaller>=6.10"]) and run the command again.')
    return re.findall(r'"([^"]+)"', m.group(1))


def ensure_bundle_tools(py: Path) -> None:
    """The [bundle] extra (PyInstaller) in .venv, once per version of it. Only
    its own requirements: the project is installed already, and a bundle
    needs no torch."""
    wanted = bundle_requirements()
    stamp = VENV / ".asr-tray-bundle-tools"
    if stamp.exists() and stamp.read_text().split("\n") == wanted:
        return
    say("installing the bundle tools: " + ", ".join(wanted) + " (once)")
    run_quiet([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
              "installing the bundle tools")
    stamp.write_text("\n".join(wanted))


def cmd_bundle(args: list[str]) -> int:
    py = ensure_venv()
    ensure_bundle_tools(py)
    return subprocess.call([str(py), str(BUNDLE_BUILD), *args], cwd=ROOT)


def data_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"


def desktop_exec(argv: list[str]) -> str:
    """argv as a desktop entry's Exec value: the Desktop Entry spec's quoting
    (the same rules as gui/settings/autostart.py, which this script, standard
    library only, cannot import)."""
    reserved = set(' \t\n"\'\\><~|&;$*?#()`')
    parts = []
    for arg in argv:
        if not arg or any(c in reserved for c in arg):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        parts.append(arg.replace("%", "%%"))
    return " ".join(parts).replace("\\", "\\\\")


def installed_paths(home: Path | None = None) -> tuple[Path, Path]:
    """(menu entry, icon) where `install` puts them."""
    home = data_home() if home is None else home
    return (home / "applications" / f"{APP_ID}.desktop",
            home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")


def install_desktop_entry(bundle: Path) -> tuple[Path, Path]:
    """The menu entry (Exec and TryExec: the bundle's asr-tray) and its icon."""
    exe = (bundle / "asr-tray").resolve()
    if not exe.is_file():
        raise SystemExit(f"[dev] {exe} does not exist: build the bundle first "
                         "(python packaging/dev.py bundle).")
    entry_path, icon_path = installed_paths()
    lines = []
    for line in DESKTOP_TEMPLATE.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + desktop_exec([str(exe)])
        elif line.startswith("TryExec="):
            line = "TryExec=" + str(exe).replace("\\", "\\\\")
        lines.append(line)
    for path, data in ((icon_path, APP_ICON.read_bytes()),
                       (entry_path, ("\n".join(lines) + "\n").encode("utf-8"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    # Menus re-read their folders by themselves; these only speed it up.
    for tool in (["update-desktop-database", "-q", str(entry_path.parent)],
                 ["gtk-update-icon-cache", "-q", "-t", str(icon_path.parents[2])]):
        if shutil.which(tool[0]):
            subprocess.run(tool, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return entry_path, icon_path


def cmd_install(args: list[str]) -> int:
    if not sys.platform.startswith("linux"):
        say("install is the Linux menu entry; on Windows and macOS use the built folder "
            "(dist/asr-tray) or dist/ASR Tray.app as they are: docs/bundle.md")
        return 2
    bundle = BUNDLE_DIR
    if args[:1] == ["--bundle-dir"] and len(args) >= 2:   # an existing build, as it is
        bundle = Path(args[1])
    else:
        code = cmd_bundle(args)
        if code:
            return code
    entry, icon = install_desktop_entry(bundle)
    say(f"installed {entry} and {icon}: ASR Tray is in the applications menu. "
        "`python packaging/dev.py uninstall` removes them.")
    return 0


def cmd_uninstall(args: list[str]) -> int:
    removed = []
    for path in installed_paths():
        if path.exists():
            path.unlink()
            removed.append(str(path))
    say("removed " + " and ".join(removed) if removed else
        "nothing to remove: no menu entry or icon of ASR Tray is installed for this user")
    return 0


COMMANDS = {"run": cmd_run, "test": cmd_test, "bundle": cmd_bundle, "install": cmd_install,
            "uninstall": cmd_uninstall}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
