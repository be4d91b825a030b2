"""The service's fronts: what clients talk to, in the service process.

HTTP (FastAPI) and the WebSocket stream, one router per front. A front
validates, turns a request into worker messages (service/protocol.py), hands
them to the supervisor (service/supervision/) and shapes the answer; it never
imports the worker side (checked by tests/test_import_contracts.py).
"""
