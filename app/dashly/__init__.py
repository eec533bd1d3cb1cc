"""Dashly's protocol, the only package that knows its field names and URLs: the parts the webhook
receives (`parts`) and the Web API that delivery calls (`client`)."""

from app.dashly.client import ApiFailure, DashlyClient, parse_retry_after
from app.dashly.parts import (
    ADMIN_MESSAGE,
    LEAD_MESSAGE,
    Part,
    PartError,
    decode_conversation,
    digits,
    parse_part,
)

__all__ = [
    "ADMIN_MESSAGE",
    "LEAD_MESSAGE",
    "ApiFailure",
    "DashlyClient",
    "Part",
    "PartError",
    "decode_conversation",
    "digits",
    "parse_part",
    "parse_retry_after",
]
