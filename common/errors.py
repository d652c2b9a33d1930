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
