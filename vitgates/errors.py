"""The one exception type that reaches a user as a single line instead of a traceback."""

__all__ = ["VitgatesError"]


class VitgatesError(Exception):
    """A problem with the user's input or environment, stated in one line.

    Raise it (or a subclass) for malformed configs, weight files, shards, missing tools and
    the like. :func:`vitgates.cli.main` prints ``vitgates: error: <message>`` and exits with
    status 2; anything else that escapes is a bug in vitgates and keeps its traceback.
    """

    def __init__(self, message: str):
        # One line, always: a multi-line message would defeat the point of this class.
        super().__init__(" ".join(str(message).split()))
