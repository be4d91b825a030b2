"""What the user sees: the tray icon and its menu, and the windows. Widgets
show state and emit what the user asked for; controllers (gui/controllers/)
do the work, and gui/tray_app.py connects the two.

  controls          the actions shared by the tray menu and the fallback window
  tray              the system-tray icon and its menu
  fallback_window   the same controls where no system tray exists
  status_window     the live process table
  leftovers_dialog  the "Kill leftover workers" question
  captions_window   live captions: microphone, transcript, export

A settings window, a model picker and views for more captions sources get
their own modules here when they come.
"""
