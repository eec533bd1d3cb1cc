"""Delivery: the worker that takes queued replies from the outbox and performs them."""

from app.delivery.worker import Delivery, retry_delay

__all__ = ["Delivery", "retry_delay"]
