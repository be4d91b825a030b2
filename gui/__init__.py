"""The tray app (PySide6). Never imports torch or ctranslate2.

Modules, one job each:
  app              entry point: markers, single instance, wiring, event loop
  service_process  the service child and its state machine (QProcess)
  quit_sequence    the one cleanup path every way out goes through
  sweep            survivors of our own tree: find by markers + registry, kill
  status_poll      /v1/status and the tray's own figures, off the UI thread
  status_window    the live process table
  leftovers_flow   "Kill leftover workers": scan, confirm, kill, report
  controls         the actions shared by the tray menu and the fallback window
  tray             the system-tray icon and its menu
  fallback_window  the same controls where no system tray exists
  single_instance  one tray per user (and runtime dir)
  unix_signals     SIGTERM/SIGINT delivered into the Qt event loop
  test_hooks       snapshots and remote actions for end-to-end tests (opt-in)
"""
