"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input or a missing resource: the message says what is wrong and what to do.

    The CLI prints it on one line to stderr and exits with code 2, never with a traceback.
    """
