"""The state store: dedupe of parts, conversation memory, the outbox and insight records, in
SQLite or PostgreSQL. `Store` is what the rest of the service uses; each base is one concern."""

from app.replies import ConversationMemory, NewReply
from app.store.conversations import ConversationRecords
from app.store.errors import StoreUnavailable
from app.store.housekeeping import Housekeeping
from app.store.insight import InsightQueries
from app.store.outbox import OutboxRecords
from app.store.records import (
    FailureKind,
    Finished,
    LeadOutcome,
    OutboxItem,
    OutboxStatus,
    StoredMessage,
)
from app.store.schema import Schema


class Store(Schema, ConversationRecords, OutboxRecords, InsightQueries, Housekeeping):
    """Durable state shared by every worker (and, on PostgreSQL, every dyno)."""


__all__ = [
    "ConversationMemory",
    "FailureKind",
    "Finished",
    "LeadOutcome",
    "NewReply",
    "OutboxItem",
    "OutboxStatus",
    "Store",
    "StoreUnavailable",
    "StoredMessage",
]
