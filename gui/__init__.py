"""The tray app (PySide6): the top of the process tree. It never imports torch,
ctranslate2, faster_whisper, onnxruntime or fastapi, nor service.worker.

  app, __main__   entry point: markers, single instance, the event loop
  tray_app        the composition root: builds controllers and widgets, wires them
  controllers/    QObjects that own processes, threads and state, and report
                  through signals (the service child, quit, sweeps, polls, ...)
  widgets/        what the user sees: the tray icon, its menu, the windows
  sources/        audio sources for live captions, as 16 kHz PCM

New parts go in the folder of their kind, one module each: settings get a
controller and a window, model choice a controller and a widget, and more
captions sources (system audio, files) their own modules in sources/.
"""
