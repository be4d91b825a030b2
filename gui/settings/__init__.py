"""The user's settings: what they are and where they are kept (store.py),
which values are acceptable (validation.py), and starting the app at log-in
(autostart.py). The Settings window is gui/widgets/settings_window.py."""
from gui.settings.store import Settings, SettingsError, SettingsStore, config_dir, load, save
from gui.settings.validation import needs_restart, validate

__all__ = ["Settings", "SettingsError", "SettingsStore", "config_dir", "load", "save",
           "needs_restart", "validate"]
