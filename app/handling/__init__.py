"""What happens to one conversation part: the decision (pure) and recording it (one transaction)."""

from app.handling.decide import (
    DELIVERY_WINDOW_SECONDS,
    Decision,
    Outcome,
    decide,
    random_id_for,
)
from app.handling.handler import Handler

__all__ = [
    "DELIVERY_WINDOW_SECONDS",
    "Decision",
    "Handler",
    "Outcome",
    "decide",
    "random_id_for",
]
