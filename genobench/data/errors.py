"""The one error type for bad input data."""


class InputError(ValueError):
    """Bad input data: the message names the file, the row and the fix."""
