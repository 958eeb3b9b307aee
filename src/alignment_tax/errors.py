"""The one error type a user can cause; the CLI prints its message without a traceback."""


class AltaxError(Exception):
    """A problem the user can fix; the message says what to do."""
