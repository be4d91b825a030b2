"""The settings file: where it lives, a round trip, damaged and hand-edited
files, the validation sentences and which changes restart the service."""
from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import pytest

from gui.settings import store as store_module
from gui.settings import validation
from gui.settings.store import Settings, SettingsError, SettingsStore
from gui.settings.validation import needs_restart, validate


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "config"
    monkeypatch.setenv("ASR_TRAY_CONFIG_DIR", str(d))
    return d


def test_the_environment_names_the_folder_and_each_platform_has_its_own(config_dir, tmp_path):
    assert store_module.settings_path() == config_dir / "settings.ini"
    home = Path("/home/ann")
    assert store_module.default_config_dir("linux", {}, home) == home / ".config" / "asr-tray"
    assert (store_module.default_config_dir("linux", {"XDG_CONFIG_HOME": "/x/conf"}, home)
            == Path("/x/conf/asr-tray"))
    # a relative XDG_CONFIG_HOME is invalid by the spec: ignored
    assert (store_module.default_config_dir("linux", {"XDG_CONFIG_HOME": "conf"}, home)
            == home / ".config" / "asr-tray")
    assert (store_module.default_config_dir("win32", {"APPDATA": r"C:\Users\ann\AppData\Roaming"},
                                            home) == Path(r"C:\Users\ann\AppData\Roaming") / "asr-tray")
    assert (store_module.default_config_dir("darwin", {}, home)
            == home / "Library" / "Preferences" / "asr-tray")


def test_missing_file_gives_the_defaults_and_they_match_the_service(config_dir):
    from service.config import BUNDLED_MODEL, ServiceConfig
    from service.worker import streaming, vad

    s = SettingsStore().load()
    assert s == Settings()
    assert not (config_dir / "settings.ini").exists()   # reading writes nothing
    assert s.model == BUNDLED_MODEL and s.port == ServiceConfig().port == 8765
    assert s.vad_threshold == vad.THRESHOLD
    assert s.end_silence_ms == round(streaming.Tuning().min_silence_s * 1000)
    assert (s.device, s.compute_type, s.language, s.microphone, s.ui_language) == \
        ("auto", "", "", "", "")
    assert s.start_service is True and s.start_at_login is False


def test_round_trip_of_every_field(config_dir, tmp_path):
    st = SettingsStore()
    model_dir = tmp_path / "my model"
    model_dir.mkdir()
    changed = Settings(model=str(model_dir), device="cuda", compute_type="int8_float16",
                       port=9123, start_service=False, language="zh",
                       microphone="PulseAudio|Mikrofon (USB) 麦克风, links", vad_threshold=0.62,
                       end_silence_ms=750, start_at_login=True, ui_language="zh_CN")
    st.save(changed)
    for name, value in (("captions_font_size", 22), ("captions_on_top", True),
                        ("export_folder", str(tmp_path / "exports, 2025"))):
        st.remember(name, value)
    st.remember_geometry("captions", b"\x01\xd9\xd0\xcb\x00\x03")
    st.remember_geometry("status", b"\x00")
    loaded = SettingsStore().load()   # a fresh reader: values come back from text
    assert loaded == replace(changed, captions_font_size=22, captions_on_top=True,
                             export_folder=str(tmp_path / "exports, 2025"),
                             geometries={"captions": b"\x01\xd9\xd0\xcb\x00\x03",
                                         "status": b"\x00"})
    assert SettingsStore().geometry("captions") == b"\x01\xd9\xd0\xcb\x00\x03"
    assert SettingsStore().geometry("nothing") is None
    text = (config_dir / "settings.ini").read_text(encoding="utf-8")
    assert "[service]" in text and "port=9123" in text and "[captions]" in text


def test_save_leaves_remembered_values_and_unknown_keys_alone(config_dir):
    st = SettingsStore()
    stale = st.load()                       # the window opened ...
    st.remember("captions_font_size", 30)   # ... the captions window changed its size ...
    st.remember_geometry("captions", b"geo")
    config_dir.joinpath("settings.ini").write_text(
        config_dir.joinpath("settings.ini").read_text() + "\n[future]\nfeature=1\n")
    st.save(replace(stale, port=9000))      # ... then Apply: the new size stays
    loaded = st.load()
    assert loaded.port == 9000 and loaded.captions_font_size == 30
    assert loaded.geometries == {"captions": b"geo"}
    assert "feature=1" in config_dir.joinpath("settings.ini").read_text()


def test_damaged_file_gives_the_defaults_and_a_log_line(config_dir, caplog):
    config_dir.mkdir()
    path = config_dir / "settings.ini"
    path.write_bytes(b"[service\nport=9999\n\xff\xfe\x00garbage")
    with caplog.at_level(logging.WARNING, logger="asr.tray.settings"):
        s = SettingsStore().load()
    assert s == Settings()
    assert any("could not be read" in r.getMessage() and str(path) in r.getMessage()
               for r in caplog.records)
    # saving rewrites it as a good file
    SettingsStore().save(replace(s, port=9001))
    assert SettingsStore().load().port == 9001


def test_binary_garbage_is_tolerated(config_dir):
    config_dir.mkdir()
    (config_dir / "settings.ini").write_bytes(os.urandom(4096))
    assert SettingsStore().load() == Settings()


def test_wrong_types_and_refused_values_fall_back_one_by_one(config_dir, caplog):
    config_dir.mkdir()
    (config_dir / "settings.ini").write_text(
        "[service]\nport=eighty\ndevice=tpu\nmodel=base\nstart_with_app=maybe\n"
        "compute_type=float16\n"
        "[captions]\nvad_threshold=0.99\nend_silence_ms=500\nlanguage=German\nfont_size=200\n"
        "[app]\nui_language=fr\nstart_at_login=yes\n"
        "[mystery]\nanswer=42\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="asr.tray.settings"):
        s = SettingsStore().load()
    d = Settings()
    assert (s.port, s.device, s.start_service, s.vad_threshold, s.ui_language,
            s.captions_font_size) == (d.port, d.device, d.start_service, d.vad_threshold,
                                      d.ui_language, d.captions_font_size)
    # the good ones are kept; a language written by hand is normalised
    assert (s.model, s.compute_type, s.end_silence_ms, s.language, s.start_at_login) == \
        ("base", "float16", 500, "de", True)
    said = " ".join(r.getMessage() for r in caplog.records)
    for key in ("service/port", "service/device", "captions/vad_threshold", "app/ui_language",
                "service/start_with_app", "captions/font_size"):
        assert key in said
    assert "mystery" not in said


def test_a_model_folder_that_went_away_is_kept_for_the_service_to_report(config_dir, tmp_path):
    gone = tmp_path / "deleted-model"
    config_dir.mkdir()
    (config_dir / "settings.ini").write_text(f"[service]\nmodel={gone}\n", encoding="utf-8")
    assert SettingsStore().load().model == str(gone)


def test_saving_refuses_bad_values_and_reports_an_unwritable_folder(config_dir, tmp_path):
    with pytest.raises(ValueError):
        SettingsStore().save(replace(Settings(), port=80))
    assert not config_dir.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    st = SettingsStore(blocker / "settings.ini")   # its folder is a file
    with pytest.raises(SettingsError) as err:
        st.save(Settings())
    assert str(blocker / "settings.ini") in str(err.value) and "could not be saved" in str(err.value)
    st.remember("captions_font_size", 20)          # remembered values only log


def test_validation_sentences(tmp_path):
    assert validate("port", 8765) is None and validate("port", 1024) is None
    for bad in (80, 1023, 65536, "abc", True, 80.5):
        why = validate("port", bad)
        assert why and "1024" in why and "65535" in why and str(bad) in why
    assert validate("vad_threshold", 0.5) is None
    for bad in (0.01, 0.96, float("nan"), "x"):
        assert "0.05" in validate("vad_threshold", bad)
    assert validate("end_silence_ms", 100) is None and validate("end_silence_ms", 3000) is None
    for bad in (99, 3001, 0.5, "-"):
        assert "3000" in validate("end_silence_ms", bad)
    assert all(validate("device", d) is None for d in ("auto", "cpu", "cuda"))
    assert "CUDA" in validate("device", "gpu")
    assert all(validate("compute_type", c) is None
               for c in ("", "int8", "int8_float16", "int16", "float16", "float32"))
    assert "float16" in validate("compute_type", "int4")
    assert validate("language", "") is None and validate("language", "zh") is None
    assert "'klingon'" in validate("language", "klingon")
    assert all(validate("ui_language", v) is None for v in ("", "en", "zh_CN"))
    assert validate("ui_language", "de")
    assert validate("model", "tiny.en") is None and validate("model", "large-v3") is None
    assert validate("model", str(tmp_path)) is None
    assert "does not exist" in validate("model", str(tmp_path / "nope"))
    assert "neither a Whisper model name" in validate("model", "gpt-4")
    assert "Choose a model" in validate("model", "")
    assert validation.problems(Settings()) == {}


def test_which_changes_restart_the_service():
    old = Settings()
    assert needs_restart(old, replace(old)) == []
    assert needs_restart(old, replace(old, language="de", vad_threshold=0.7, microphone="x",
                                      ui_language="zh_CN", start_at_login=True)) == []
    assert needs_restart(old, replace(old, port=9000, model="base")) == ["model", "port"]
    assert needs_restart(old, replace(old, device="cpu", compute_type="int8")) == \
        ["device", "compute_type"]
