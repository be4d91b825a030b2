"""Start at log-in on each platform: the XDG autostart entry for real (in a
temporary XDG_CONFIG_HOME), the macOS LaunchAgent's plist (in a temporary
HOME), and the Windows Run key through a stand-in winreg module (there is no
registry here: that stand-in is the only fake, docs/settings.md)."""
from __future__ import annotations

import configparser
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from gui.settings import autostart


def parse_desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str      # keys are case-sensitive in desktop entries
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def exec_argv(value: str) -> list[str]:
    """The Desktop Entry spec's reading of Exec, written out: first the
    string escapes, then arguments split at unquoted spaces, where inside
    double quotes a backslash escapes `"`, `` ` ``, `$` and itself; `%%` is `%`."""
    text, i = [], 0
    while i < len(value):     # string escapes: \\ \s \n \t \r
        if value[i] == "\\" and i + 1 < len(value):
            text.append({"\\": "\\", "s": " ", "n": "\n", "t": "\t", "r": "\r"}[value[i + 1]])
            i += 2
        else:
            text.append(value[i])
            i += 1
    text = "".join(text)
    args, arg, quoted, i = [], None, False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and text[i + 1] in '"`$\\':
                arg += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
            else:
                arg += c
        elif c == " ":
            if arg is not None:
                args.append(arg)
            arg = None
        elif c == '"':
            quoted, arg = True, arg or ""
        else:
            assert c not in "\t\n'\\><~|&;$*?#()`", f"unquoted reserved character {c!r}"
            arg = (arg or "") + c
        i += 1
    assert not quoted, "unterminated quote"
    if arg is not None:
        args.append(arg)
    return [a.replace("%%", "%") for a in args]


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def test_linux_entry_is_a_desktop_entry_that_starts_this_app(xdg):
    a = autostart.for_this_platform()
    assert isinstance(a, autostart.XdgAutostart)
    assert a.path == xdg / "autostart" / "asr-tray.desktop"
    assert not autostart.is_enabled()
    autostart.enable()
    assert autostart.is_enabled()
    entry = parse_desktop_entry(a.path)
    assert entry["Type"] == "Application" and entry["Name"] == "ASR Tray"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    argv, cwd = autostart.launch_command()
    assert exec_argv(entry["Exec"]) == argv
    program = Path(argv[0])
    assert program.is_file() and os.access(program, os.X_OK)
    # the installed script (or python -m gui) really is this app: it answers --help
    out = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                         cwd=cwd, env={k: v for k, v in os.environ.items()
                                       if not k.startswith("ASR_TRAY_")} | {
                             "ASR_TRAY_RUNTIME_DIR": os.environ["ASR_TRAY_RUNTIME_DIR"],
                             "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0 and "asr-tray" in out.stdout, out.stderr[-2000:]
    autostart.enable()     # twice: still one entry
    assert sorted(p.name for p in a.path.parent.iterdir()) == ["asr-tray.desktop"]
    autostart.disable()
    assert not a.path.exists() and not autostart.is_enabled()
    autostart.disable()    # nothing to remove: no error


def test_linux_entry_without_xdg_config_home_goes_to_dot_config(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.XdgAutostart().path == tmp_path / ".config" / "autostart" / "asr-tray.desktop"


def test_exec_quoting_survives_spaces_quotes_dollars_and_percent(xdg, monkeypatch):
    argv = ["/opt/My Apps/py$thon \"3\"", "-m", "gui", "--dictate-key", "100%", "C:\\x", "it's"]
    monkeypatch.setattr(autostart, "launch_command", lambda: (argv, Path("/src/asr tray")))
    autostart.enable()
    entry = parse_desktop_entry(autostart.XdgAutostart().path)
    assert exec_argv(entry["Exec"]) == argv
    assert entry["Path"] == "/src/asr tray"


def test_a_desktop_that_turned_the_entry_off_is_not_enabled(xdg):
    a = autostart.XdgAutostart()
    a.enable()
    a.path.write_text(a.path.read_text().replace("X-GNOME-Autostart-enabled=true",
                                                 "X-GNOME-Autostart-enabled=false"))
    assert not a.is_enabled()


def test_an_unwritable_place_is_a_sentence(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    with pytest.raises(autostart.AutostartError) as err:
        autostart.set_enabled(True)
    assert "could not be changed" in str(err.value) and str(blocker) in str(err.value)


def test_macos_launch_agent_plist(tmp_path):
    agent = autostart.LaunchAgent(home=tmp_path)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / "asr-tray.plist"
    assert not agent.is_enabled()
    agent.enable()
    with open(agent.path, "rb") as f:
        plist = plistlib.load(f)
    argv, cwd = autostart.launch_command()
    assert plist["Label"] == "asr-tray" and plist["ProgramArguments"] == argv
    assert plist["RunAtLoad"] is True
    assert plist.get("WorkingDirectory") == (str(cwd) if cwd else None)
    assert agent.is_enabled()
    agent.disable()
    assert not agent.path.exists() and not agent.is_enabled()


class FakeWinreg:
    """winreg's calls that RunKey makes, over a dict: {(hive, key): {name: (type, value)}}."""
    HKEY_CURRENT_USER = "HKCU"
    KEY_READ, KEY_SET_VALUE, REG_SZ = 0x20019, 0x0002, 1

    class Key:
        def __init__(self, store, access):
            self.store, self.access = store, access

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def __init__(self):
        self.keys: dict[tuple[str, str], dict] = {}

    def CreateKeyEx(self, hive, sub, reserved=0, access=0x20019):
        return self.Key(self.keys.setdefault((hive, sub), {}), access)

    def OpenKey(self, hive, sub, reserved=0, access=0x20019):
        if (hive, sub) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.Key(self.keys[(hive, sub)], access)

    def SetValueEx(self, key, name, reserved, kind, value):
        assert key.access & self.KEY_SET_VALUE
        key.store[name] = (kind, value)

    def QueryValueEx(self, key, name):
        if name not in key.store:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        kind, value = key.store[name]
        return value, kind

    def DeleteValue(self, key, name):
        assert key.access & self.KEY_SET_VALUE
        if name not in key.store:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.store[name]


def test_windows_run_key(monkeypatch):
    reg = FakeWinreg()
    run = autostart.RunKey(winreg=reg)
    assert not run.is_enabled()
    run.disable()   # no Run key yet: nothing to do
    argv = [r"C:\Program Files\ASR Tray\Scripts\asr-tray.exe"]
    monkeypatch.setattr(autostart, "launch_command", lambda: (argv, None))
    run.enable()
    where = ("HKCU", r"Software\Microsoft\Windows\CurrentVersion\Run")
    assert reg.keys[where] == {"ASR Tray": (reg.REG_SZ, '"' + argv[0] + '"')}
    assert run.is_enabled()
    run.disable()
    assert reg.keys[where] == {} and not run.is_enabled()


def test_windows_run_key_failure_is_a_sentence():
    reg = FakeWinreg()

    def denied(*a, **k):
        raise PermissionError(5, "Access is denied")
    reg.CreateKeyEx = denied
    with pytest.raises(autostart.AutostartError) as err:
        autostart.RunKey(winreg=reg).enable()
    assert "CurrentVersion\\Run" in str(err.value) and "Access is denied" in str(err.value)


def test_launch_command_prefers_the_installed_script(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    argv, cwd = autostart.launch_command()
    assert argv == [str(tmp_path / "bin" / "python"), "-m", "gui"]
    assert cwd is not None and (cwd / "gui" / "__main__.py").is_file()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "asr-tray").write_text("#!/bin/sh\n")
    assert autostart.launch_command() == ([str(tmp_path / "bin" / "asr-tray")], None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert autostart.launch_command() == ([str(tmp_path / "bin" / "python")], None)
