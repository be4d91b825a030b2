"""WS /v1/stream (live captions). Placeholder until the streaming issue lands."""


def install(app, supervisor, cfg) -> None:
    pass
