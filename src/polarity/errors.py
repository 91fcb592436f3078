"""Exceptions raised by polarity with messages meant for users."""


class PolarityError(Exception):
    """Base class of polarity's user-facing errors."""


class DataError(PolarityError, ValueError):
    """The data is missing, malformed or not in the expected layout."""


class ConfigError(PolarityError, ValueError):
    """A recipe, model folder or option is invalid."""
