"""The web app: dashboards and an API over the store (``flowcap serve``).

``create_app`` is imported on first use, so that :mod:`flowcap.web.demo` (which the CLI's
``flowcap demo`` reads its login from) needs no web framework.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from flowcap.web.app import create_app

        return create_app
    raise AttributeError(f"module 'flowcap.web' has no attribute {name!r}")
