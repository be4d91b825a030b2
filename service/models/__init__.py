"""Which Whisper models can be used: the offline ones the project installs,
those downloaded into the model cache, and CTranslate2 folders a user picks.
No FastAPI, no Qt, no model stack at import time: the CLI and the tray's
Models page read this without loading a model."""
