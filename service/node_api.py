"""/utterance and /reset of the node this service replaces. Placeholder."""


def install(app, supervisor, cfg) -> None:
    pass
