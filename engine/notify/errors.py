"""The two ways a delivery fails: try again later, or don't."""

from __future__ import annotations


class DeliveryError(Exception):
    """A notification was not delivered. ``retryable``: a later attempt may succeed (see ``backoff``)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SubscriptionGone(DeliveryError):
    """The push service answered 404 or 410: the subscription no longer exists and should be deleted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
