"""Notification channels for alerts: who gets what (``preferences``), the text (``message``), the senders
(``email``, ``webhook``, ``webpush``) and when to try again (``backoff``).

Senders raise only :class:`DeliveryError` (``retryable`` says whether to try again later) and its subclass
:class:`SubscriptionGone` (a web-push subscription the browser dropped: delete it).
"""

from engine.notify.errors import DeliveryError, SubscriptionGone

__all__ = ["DeliveryError", "SubscriptionGone"]
