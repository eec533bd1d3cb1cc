"""Delivery: the worker that takes queued replies from the outbox and performs them."""

from app.delivery.sending import retry_delay
from app.delivery.worker import Delivery

__all__ = ["Delivery", "retry_delay"]
