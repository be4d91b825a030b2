"""Supervision of the worker, inside the service process: spawn it from the
main thread, watch it, restart it with backoff, queue requests for it, and
stop it down the L2 ladder (stop message -> join -> terminate -> kill -> sweep).
supervisor.py ties together handle.py (one worker), policy.py (restart rules),
request_queue.py (requests and counters) and watch.py (waiting for changes)."""
