"""The tray app (PySide6). Never imports torch or ctranslate2."""
