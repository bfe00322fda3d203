"""Why a model call gave no usable answer, named for the retry policies that handle each case.

Step Functions matches a Lambda's error by its class name only, so the retryable case is exactly
`ModelThrottled` (the AIEnrichment state's retrier lists that name) and never a subclass.
"""

from __future__ import annotations


class ModelError(RuntimeError):
    """The model gave no usable answer."""


class ModelThrottled(ModelError):
    """Bedrock said "not now" (throttled, overloaded, model warming up, unreachable): retry later."""


class ModelUnavailable(ModelError):
    """Bedrock refused the request for a reason a retry cannot fix (access, model id, request)."""


class ModelOutputInvalid(ModelError):
    """The model answered, but not with a tool call that matches the schema: nothing is written."""
