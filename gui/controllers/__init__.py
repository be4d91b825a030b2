"""The tray's controllers: QObjects that own processes, threads and state and
report through signals; no widgets here (those are in gui/widgets/), and
nothing here waits on the UI thread.

  service_process  the service child and its state machine (QProcess)
  stderr_tail      the bounded tail of the service's stderr (for error sentences)
  quit_sequence    the one cleanup path every way out goes through
  sweep            survivors of our own tree: find by markers + registry, kill
  status_poll      /v1/status and the tray's own figures, off the UI thread
  leftovers_flow   "Kill leftover workers": scan, ask, kill, report
  live_captions    one captions session: capture + stream + timeline + device scans
  stream_client    one live-captions stream over WS /v1/stream
  single_instance  one tray per user (and runtime dir)
  unix_signals     SIGTERM/SIGINT delivered into the Qt event loop
  test_hooks       snapshots and remote actions for end-to-end tests (opt-in)

Settings, model choice and more captions sources get their own controller
modules here when they come.
"""
