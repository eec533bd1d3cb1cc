"""The message mix a live account sends, as real-shaped webhook forms (shared by the benchmarks).

Of every ten webhooks: four operator or system parts, four lead messages that match no rule,
two lead messages that get a reply. Part ids are unique; conversations hold a few messages each.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

UNMATCHED = [
    "ok thanks",
    "I will think about it",
    "can you check my account",
    "the app crashes when I open settings",
    "спасибо, подумаю",
    "my colleague will write later",
    "is there a discount for students",
    "what is your refund policy",
]
MATCHED = ["hello, how are you", "how much does it cost?", "когда доставят заказ", "price list"]
SYSTEM_TYPES = ["note", "assigned", "closed", "tag_added"]


def webhook_forms(count: int, token: str, seed: int = 7, first_id: int = 10**9) -> Iterator[dict]:
    """`count` webhook forms in the live mix, each with a unique part id."""
    rng = random.Random(seed)
    for number in range(count):
        conversation = first_id + number // 5  # about five parts per conversation
        slot = number % 10
        part: dict = {"id": first_id + number, "conversation": conversation, "created": 1.7e9}
        if slot < 4:
            if slot < 2:
                part.update(
                    type="reply_admin",
                    sent_via="app_chrome",
                    body="Let me check",
                    **{"from": {"id": 14709, "type": "admin"}},
                )
            else:
                part.update(
                    type=rng.choice(SYSTEM_TYPES),
                    body="",
                    **{"from": {"id": 14709, "type": "admin"}},
                )
        else:
            # Lead messages come from conversations without an operator, so the mix's replies
            # are not silenced by the quiet rule.
            part["conversation"] = first_id * 2 + number
            text = rng.choice(UNMATCHED) if slot < 8 else rng.choice(MATCHED)
            part.update(type="reply_user", sent_via="web_user", body=text, **{"from": 85648207})
        yield {
            "conversation": json.dumps(part, ensure_ascii=False),
            "type": "conversation",
            "token": token,
        }


# Stand-ins for the ids in a form template; wrk's script puts each request's own ids there.
ID_MARK, CONVERSATION_MARK, LEAD_CONVERSATION_MARK = "111111111111", "222222222222", "333333333333"


def form_templates(count: int, token: str, seed: int = 7) -> list[tuple[str, bool]]:
    """`count` url-encoded webhook bodies in the live mix, as (body, is a lead message), with
    ID_MARK where the part id goes and a mark where the conversation goes."""
    from urllib.parse import urlencode

    templates = []
    for form in webhook_forms(count, token, seed=seed):
        part = json.loads(form["conversation"])
        lead = part["type"] == "reply_user"
        part["id"] = int(ID_MARK)
        part["conversation"] = int(LEAD_CONVERSATION_MARK if lead else CONVERSATION_MARK)
        form = {**form, "conversation": json.dumps(part, ensure_ascii=False)}
        templates.append((urlencode(form), lead))
    return templates
