"""The control plane's exception tree; each class carries its HTTP status.

    NomadError (500)
    ├── ValidationError (400)      bad job, bad request body, bad query param
    │   └── JobSpecError (400)     job file that does not parse or validate
    ├── PermissionDenied (403)
    ├── NotFound (404)             "job not found", "alloc not found", ...
    ├── MethodNotAllowed (405)
    ├── Conflict (409)             check-index mismatch, idempotency conflicts
    ├── NoLeader (503)             no cluster leader within the write timeout
    └── InternalError (500)

The HTTP layer maps an exception to its status in one place; the API client
raises the same classes from responses, so CLI, TUI and tests catch typed
errors. Messages follow Nomad's wording where Nomad has one.
"""

from __future__ import annotations


class NomadError(Exception):
    """Base of every error the control plane reports to a caller."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(NomadError):
    status = 400


class JobSpecError(ValidationError):
    """A job file that cannot be parsed or fails validation.

    `file` and `line` locate the problem when known; str() renders
    `file:line: message` as the CLI prints it.
    """

    def __init__(self, message: str, file: str = "", line: int | None = None) -> None:
        self.file = file
        self.line = line
        prefix = file
        if line is not None:
            prefix = f"{file}:{line}" if file else f"line {line}"
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.detail = message


class PermissionDenied(NomadError):
    status = 403

    def __init__(self, message: str = "Permission denied") -> None:
        super().__init__(message)


class NotFound(NomadError):
    status = 404


class MethodNotAllowed(NomadError):
    status = 405

    def __init__(self, message: str = "Invalid method") -> None:
        super().__init__(message)


class Conflict(NomadError):
    status = 409


class NoLeader(NomadError):
    status = 503

    def __init__(self, message: str = "No cluster leader") -> None:
        super().__init__(message)


class InternalError(NomadError):
    status = 500


_BY_STATUS: dict[int, type[NomadError]] = {
    400: ValidationError,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    503: NoLeader,
}


def error_for_status(status: int, message: str) -> NomadError:
    """The exception class a response with this status maps back to."""
    cls = _BY_STATUS.get(status, InternalError if status >= 500 else NomadError)
    err = cls.__new__(cls)
    NomadError.__init__(err, message)
    err.status = status
    return err
