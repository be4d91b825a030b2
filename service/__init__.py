"""The ASR service: an HTTP front (FastAPI) that supervises one worker process.

Process tree and protection layers: see docs/architecture.md. Nothing imported
here may pull in torch or ctranslate2: the tray imports parts of this package
(registry, leftovers, process info) and must stay light.
"""

__version__ = "0.1.0"
