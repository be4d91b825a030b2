"""The tray's controllers: QObjects that own processes, threads and state and
report through signals; no widgets here (those are in gui/widgets/)."""
