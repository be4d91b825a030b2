"""The worker process: the only process that imports the model stack
(faster-whisper, CTranslate2, onnxruntime) and touches the GPU.

  main.py       entry point in the spawned process; serves the pipe (service/protocol.py)
  engine.py     the model and Silero VAD, loaded once; file decoding
  vad.py        voice activity: Silero's probabilities and the one hysteresis state machine
  streaming.py  live captions: per-stream VAD + Whisper
  utterance.py  the node's /utterance: decode, find speech, keep its context
"""
