"""What the user sees: the tray icon and its menu, and the windows. Widgets
show state and emit what the user asked for; controllers do the work."""
