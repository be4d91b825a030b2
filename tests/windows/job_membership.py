"""Runs under the *Windows* python of the wine lane: shows that a child is in
our kill-on-close job before it has run a single instruction.

It joins its own job (service/safety/lifeline.py), starts a child suspended
(CREATE_SUSPENDED: created, not yet run), asks the kernel whether that child
is in our job, checks that bind_child_to_us is then a harmless no-op, and
ends the child. Prints one JSON line.
"""
import ctypes
import json
import subprocess
import sys
from ctypes import wintypes

from service.safety import lifeline

CREATE_SUSPENDED = 0x00000004

joined = lifeline.join_own_kill_on_close_job()
child = subprocess.Popen([sys.executable, "-c", "pass"], creationflags=CREATE_SUSPENDED,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
inside = wintypes.BOOL(False)
asked = False
if lifeline.in_own_job():
    k = lifeline._kernel32()
    asked = bool(k.IsProcessInJob(wintypes.HANDLE(child._handle), lifeline._kill_on_close_job(),
                                  ctypes.byref(inside)))
bound = lifeline.bind_child_to_us(child.pid)
child.kill()
child.wait()
print(json.dumps({"joined": joined, "asked": asked, "in_job_before_running": bool(inside),
                  "bind_child_to_us": bound, "joined_again": lifeline.join_own_kill_on_close_job()}))
