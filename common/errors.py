"""Errors a user can act on. ``scripts/*.py`` print them as one message, without a traceback."""


class LandmarksError(Exception):
    """Base class of the errors that explain what went wrong and what to do."""


class MissingDataError(LandmarksError):
    """A data set is not in the data directory and may not be downloaded."""


class DataIntegrityError(LandmarksError):
    """A data file is there but its checksum or format is wrong."""


class CheckpointError(LandmarksError):
    """A checkpoint is unreadable or belongs to another paper or model."""


class NonFiniteLossError(LandmarksError):
    """Training produced a NaN or infinite loss."""


class ConfigError(LandmarksError):
    """A config value has the wrong type or is out of range."""


class RunFolderError(LandmarksError):
    """A run folder belongs to another run (still going, or already there)."""


class RunInterrupted(LandmarksError):
    """The run was stopped by a signal; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
