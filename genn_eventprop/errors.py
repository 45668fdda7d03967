"""Errors that reach the user as one clear line (the CLI prints them and exits with code 2)."""


class UserError(Exception):
    """Bad input from the user: a wrong config key, a missing or corrupt file, a buffer too small.

    The message names the problem and how to fix it; the CLI prints it alone and exits 2.
    """


class ConfigError(UserError):
    """A config file or --set override that does not fit the schema."""


class DataError(UserError):
    """A dataset that is missing, corrupt or of the wrong shape."""


class SpikeBufferOverflow(UserError):
    """A neuron fired more spikes in one trial than its spike buffer holds."""


class DataWarning(UserWarning):
    """Data that is used but not as it is written (a file cut short, stereo mixed down); one line on stderr."""
