"""The error types a step may raise.

Lambda reports a raised exception's class name as its ``errorType``; the
state machine's Retry and Catch clauses match on that name. So these names
are part of the contract: renaming one means changing the ASL too (a test
keeps the two in step).
"""


class ImgflowError(Exception):
    """Base of every error imgflow raises on purpose."""


class PermanentError(ImgflowError):
    """The input itself is at fault: retrying cannot help."""


class InvalidImageError(PermanentError):
    """The bytes are not a decodable image (corrupt, truncated, not an image)."""


class UnsupportedFormatError(PermanentError):
    """A real image, in a format imgflow does not handle."""


class ImageTooLargeError(PermanentError):
    """The image exceeds the configured byte or pixel limit."""


class EmptyObjectError(PermanentError):
    """The object holds zero bytes."""


class InvalidEventError(PermanentError):
    """The event does not name an S3 object imgflow can process."""


class ConfigurationError(PermanentError):
    """The function's environment is incomplete or inconsistent."""


class TransientError(ImgflowError):
    """A temporary failure of a dependency (throttling, 5xx): retry with backoff."""


class ObjectNotFoundError(PermanentError):
    """The object (or the version) named by the event no longer exists."""


class WriteConflictError(ImgflowError):
    """A conditional write lost: the object changed since it was validated."""


PERMANENT_ERRORS: tuple[type[PermanentError], ...] = (
    InvalidImageError,
    UnsupportedFormatError,
    ImageTooLargeError,
    EmptyObjectError,
    InvalidEventError,
    ConfigurationError,
    ObjectNotFoundError,
)

# Names the state machine retries. Lambda.* come from the Lambda service
# (throttle, service fault; Lambda.Unknown for an unhandled failure without an
# error type), Sandbox.Timedout from a function timeout, Runtime.ExitError from
# the runtime process dying (a crash, a killed sandbox): a retry runs in a
# fresh sandbox, and a crash the input causes every time still ends in the
# Catch after the bounded retries. States.Timeout is the Task's own timeout.
# Runtime.OutOfMemory is deliberately absent: the same image in the same
# memory fails the same way (quarantined at once; raise the function's memory).
# See docs/reliability.md.
TRANSIENT_ERROR_NAMES: tuple[str, ...] = (
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
    "States.Timeout",
)
