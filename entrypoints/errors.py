"""The CLI's one error table: exception type -> exit code, with a one-line message."""

from __future__ import annotations

from pyworker.domain import (
    BackendUnavailableError,
    ConfigurationError,
    DurableLeaseNotFoundError,
    InvalidTaskError,
    TaskNotFoundError,
    WorkerError,
)

EXIT_OK = 0
EXIT_ERROR = 1  # a command failed (go-worker's workerctl exits 1 on every error)
EXIT_USAGE = 2  # bad flags or arguments (click's own code)
EXIT_UNAVAILABLE = 3  # the backend could not be reached
EXIT_INTERNAL = 70  # a bug: logged with its traceback

#: Most specific first.
ERROR_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (BackendUnavailableError, EXIT_UNAVAILABLE),
    (ConfigurationError, EXIT_USAGE),
    (InvalidTaskError, EXIT_USAGE),
    (TaskNotFoundError, EXIT_ERROR),
    (DurableLeaseNotFoundError, EXIT_ERROR),
    (WorkerError, EXIT_ERROR),
)


def exit_code_for(error: BaseException) -> int:
    for error_type, code in ERROR_EXIT_CODES:
        if isinstance(error, error_type):
            return code
    return EXIT_INTERNAL
