"""Audio sources for live captions (microphones today), turned into 16 kHz
mono 16-bit PCM for the service's stream."""
