"""Audio sources for live captions, turned into 16 kHz mono 16-bit PCM for
the service's stream: anything with read(timeout) -> bytes and stop()
(gui/controllers/stream_client.AudioSource).

  capture   input devices and what the computer plays (PortAudio through
            sounddevice; WASAPI loopback devices on Windows where PortAudio has them)
  pulse     PulseAudio/PipeWire sources and monitors (pactl, PULSE_SOURCE)
"""
