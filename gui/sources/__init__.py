"""Audio sources for live captions, turned into 16 kHz mono 16-bit PCM for
the service's stream: anything with read(timeout) -> bytes and stop()
(gui/controllers/stream_client.AudioSource).

  capture   microphones (PortAudio through sounddevice)

More captions sources (system audio, a file played back) get their own
modules here.
"""
