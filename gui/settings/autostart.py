r"""Start ASR Tray when the user logs in, the way each platform expects it.

- Linux and other XDG desktops: `$XDG_CONFIG_HOME/autostart/asr-tray.desktop`
  (~/.config when XDG_CONFIG_HOME is unset), a desktop entry the session starts.
- Windows: the value "ASR Tray" under
  HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run (winreg,
  imported only there).
- macOS: a LaunchAgent, ~/Library/LaunchAgents/asr-tray.plist (RunAtLoad).

The command written is the one that starts this app now (`launch_command`),
so an entry made from a virtual environment starts that environment's app.
enable() / disable() / is_enabled() act on the current platform; the classes
take their location (or the winreg module) so tests can aim them elsewhere.
"""
from __future__ import annotations

import logging
import os
import plistlib
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication

# lupdate (packaging/i18n.py) finds the calls written translate("Context", "text").
translate = QCoreApplication.translate

log = logging.getLogger("asr.tray.autostart")

APP_ID = "asr-tray"
DISPLAY_NAME = "ASR Tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# The project root: `python -m gui` needs it on sys.path when the app is not installed.
SOURCE_ROOT = Path(__file__).resolve().parents[2]


class AutostartError(Exception):
    """A sentence for the user: what could not be changed, why, what to do."""



def launch_command() -> tuple[list[str], Path | None]:
    """(argv, working folder or None) that start this app the way it runs now:
    the frozen bundle's executable; else the `asr-tray` script installed next
    to this interpreter; else `python -m gui` from the source tree (pythonw
    on Windows, so no console window opens at log-in)."""
    if getattr(sys, "frozen", False):
        return [sys.executable], None
    here = Path(sys.executable).parent
    for script in ("asr-tray.exe", "asr-tray") if os.name == "nt" else ("asr-tray",):
        if (here / script).is_file():
            return [str(here / script)], None
    python = sys.executable
    if os.name == "nt" and (here / "pythonw.exe").is_file():
        python = str(here / "pythonw.exe")
    return [python, "-m", "gui"], SOURCE_ROOT


def _failed(where, exc: OSError) -> AutostartError:
    text = translate("Autostart", "Starting ASR Tray at log-in could not be changed: {0} could "
                                  "not be written ({1}). Check that you may write there, then "
                                  "try again.")
    return AutostartError(text.format(where, exc.strerror or exc))


# ------------------------------------------------------------ Linux (XDG)
_EXEC_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def desktop_exec(argv: list[str]) -> str:
    """argv as a desktop entry's Exec value (the Desktop Entry spec's quoting:
    arguments with reserved characters in double quotes, `"` `` ` `` `$` `\\`
    escaped inside them, `%` doubled; then the string escape of `\\`)."""
    parts = []
    for arg in argv:
        if not arg or any(c in _EXEC_RESERVED for c in arg):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        parts.append(arg.replace("%", "%%"))
    return " ".join(parts).replace("\\", "\\\\")


def _desktop_value(text: str) -> str:
    """A string value of a desktop entry: one line, backslashes escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class XdgAutostart:
    def __init__(self, config_home: Path | None = None):
        if config_home is None:
            xdg = os.environ.get("XDG_CONFIG_HOME", "")
            config_home = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config"
        self.path = Path(config_home) / "autostart" / f"{APP_ID}.desktop"

    def entry(self) -> str:
        argv, cwd = launch_command()
        # In the interface language of the moment it is written (what a
        # session's startup-programs list shows).
        comment = translate("Autostart", "Local speech recognition in the system tray")
        lines = ["[Desktop Entry]", "Type=Application", f"Name={DISPLAY_NAME}",
                 f"Comment={_desktop_value(comment)}",
                 f"Exec={desktop_exec(argv)}", "Terminal=false",
                 "X-GNOME-Autostart-enabled=true"]
        if cwd is not None:
            lines.append(f"Path={_desktop_value(str(cwd))}")
        return "\n".join(lines) + "\n"

    def enable(self) -> None:
        _write_atomically(self.path, self.entry().encode("utf-8"))

    def disable(self) -> None:
        _remove(self.path)

    def is_enabled(self) -> bool:
        # A desktop that turned it off writes Hidden=true or the GNOME key false.
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        lines = {line.strip().replace(" ", "") for line in text.splitlines()}
        return not ({"Hidden=true", "X-GNOME-Autostart-enabled=false"} & lines)


# ------------------------------------------------------------ macOS (launchd)
class LaunchAgent:
    def __init__(self, home: Path | None = None):
        home = Path.home() if home is None else Path(home)
        self.path = home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    def content(self) -> dict:
        argv, cwd = launch_command()
        agent = {"Label": APP_ID, "ProgramArguments": argv, "RunAtLoad": True,
                 "ProcessType": "Interactive", "LimitLoadToSessionType": "Aqua"}
        if cwd is not None:
            agent["WorkingDirectory"] = str(cwd)
        return agent

    def enable(self) -> None:
        _write_atomically(self.path, plistlib.dumps(self.content()))

    def disable(self) -> None:
        _remove(self.path)

    def is_enabled(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                return not plistlib.load(f).get("Disabled", False)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False


# ------------------------------------------------------------ Windows (registry)
class RunKey:
    """The per-user Run key. `winreg` is the module (tests pass a stand-in:
    there is no registry here)."""

    value_name = DISPLAY_NAME

    def __init__(self, winreg=None):
        if winreg is None:
            import winreg   # Windows only
        self.winreg = winreg
        self.path = "HKEY_CURRENT_USER\\" + RUN_KEY

    def command_line(self) -> str:
        return subprocess.list2cmdline(launch_command()[0])

    def enable(self) -> None:
        w = self.winreg
        try:
            with w.CreateKeyEx(w.HKEY_CURRENT_USER, RUN_KEY, 0, w.KEY_SET_VALUE) as key:
                w.SetValueEx(key, self.value_name, 0, w.REG_SZ, self.command_line())
        except OSError as exc:
            raise _failed(self.path, exc) from None

    def disable(self) -> None:
        w = self.winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, RUN_KEY, 0, w.KEY_SET_VALUE) as key:
                w.DeleteValue(key, self.value_name)
        except FileNotFoundError:
            pass    # no Run key, or no value of ours: nothing starts at log-in already
        except OSError as exc:
            raise _failed(self.path, exc) from None

    def is_enabled(self) -> bool:
        w = self.winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, RUN_KEY, 0, w.KEY_READ) as key:
                w.QueryValueEx(key, self.value_name)
            return True
        except OSError:
            return False


# ------------------------------------------------------------ shared
def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass   # its folder could not be made either
        raise _failed(path, exc) from None
    log.info("start at log-in: wrote %s", path)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise _failed(path, exc) from None
    log.info("start at log-in: removed %s", path)


def for_this_platform():
    if sys.platform == "win32":
        return RunKey()
    if sys.platform == "darwin":
        return LaunchAgent()
    return XdgAutostart()


def enable() -> None:
    for_this_platform().enable()


def disable() -> None:
    for_this_platform().disable()


def is_enabled() -> bool:
    return for_this_platform().is_enabled()


def set_enabled(on: bool) -> None:
    """enable() or disable(); AutostartError carries the sentence."""
    (enable if on else disable)()
