"""The service's fronts: what clients talk to, in the service process.

HTTP (FastAPI) and the WebSocket stream, one router per front. A front
validates, turns a request into worker messages (service/protocol.py), hands
them to the supervisor (service/supervision/) and shapes the answer; it never
imports the worker side (checked by tests/test_import_contracts.py).

  app.py         build_app: state, error handlers, the gate, the routers
  health.py      /health, /v1/status, /v1/models
  openai_api.py  POST /v1/audio/transcriptions (OpenAI-compatible)
  control.py     POST /v1/worker/restart, POST /v1/shutdown (token)
  stream_api.py  WS /v1/stream (live captions)
  node_api.py    POST /utterance, POST /reset (the node's old API)
  docs_page.py   GET /, /docs, /redoc and Swagger UI's files, offline
  gate.py        middleware: Host, Origin, announced upload size, token beyond loopback
  origin_policy.py  the Host and Origin rules (against web pages next door)
  body_limit.py  middleware: counts body bytes as they arrive, 413 past the limit
  auth.py        the token check; deps.py: what routes get through Depends
  responses.py   error bodies and the handlers that produce them
"""
