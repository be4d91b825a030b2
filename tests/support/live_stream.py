"""The tray's capture path without the window: gui/sources/capture.Capture
reading a device through sounddevice, its 16 kHz PCM sent as it arrives to a
real service's WS /v1/stream, the finals collected. Tests use it to measure
what a captions window would show from a given source."""
from __future__ import annotations

import json
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def stream_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/stream?sample_rate=16000&language=en"


def caption(service_url: str, device, play, until, lead_s: float = 0.5, tail_s: float = 1.5,
            timeout_s: float = 180.0) -> list[dict]:
    """Capture `device` (a capture.InputDevice) into a stream; once `lead_s`
    of its audio went out, call `play()` (so no word is said before the
    capture listens), then go on until `until()` is true, `tail_s` more, and
    stop. The finals, in order."""
    from gui.sources.capture import Capture

    ws = connect(stream_url(service_url), proxy=None, open_timeout=30, max_size=2**20,
                 legacy=True)
    events: list[dict] = []
    done = threading.Event()

    def receive():
        try:
            while True:
                event = json.loads(ws.recv(timeout=timeout_s))
                events.append(event)
                if event["type"] in ("done", "error"):
                    break
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            done.set()

    receiver = threading.Thread(target=receive, name="stream-receiver", daemon=True)
    receiver.start()
    cap = Capture()
    cap.start(device)
    try:
        deadline = time.monotonic() + timeout_s
        sent = 0
        playing = False
        tail_from = None
        while time.monotonic() < deadline:
            pcm = cap.read(0.1)
            if pcm:
                ws.send(pcm)
                sent += len(pcm)
            if not playing and sent >= lead_s * 32000:
                play()
                playing = True
            if playing and tail_from is None and until():
                tail_from = time.monotonic()
            if tail_from is not None and time.monotonic() - tail_from > tail_s:
                break
        else:
            raise AssertionError(f"the source did not finish within {timeout_s} s")
    finally:
        cap.stop()
    ws.send(json.dumps({"type": "stop"}))
    assert done.wait(60), "no 'done' after stop"
    ws.close()
    receiver.join(5)
    errors = [e for e in events if e["type"] == "error"]
    assert not errors, errors
    assert cap.dropped == 0, f"{cap.dropped} capture blocks were dropped"
    return [e for e in events if e["type"] == "final"]
