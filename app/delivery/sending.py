"""Performing one queued reply: its actions in order through the Dashly client, and what
to do when a call fails (retry with backoff, or give up and keep it as dead)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from app.dashly.client import ApiFailure, DashlyClient
from app.rules.templates import AnswerTemplateError, compile_answer
from app.store import Finished, OutboxItem, Store

log = logging.getLogger(__name__)

# A claimed reply comes due again after this long if its worker died mid-call: that is the
# window in which a reply can be sent twice (README, Guarantees). It must outlast the longest
# step: a lead-name look-up (connect 2 s + read 3 s) and then the call (connect 3.05 s + read
# 10 s), 18 s, plus a margin; each completed step renews it.
LEASE_SECONDS = 30.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 120.0


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with jitter; never sooner than the API's Retry-After."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    delay = rng.uniform(ceiling / 2, ceiling)  # jitter: workers that failed together spread out
    return max(delay, retry_after or 0.0)


class Sender:
    """Performs a claimed reply's remaining actions; records a retry or a burial itself, and
    hands back what to record when the reply was delivered."""

    def __init__(
        self, store: Store, client: DashlyClient | None, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.rng = random.Random()
        self._warned_about_token = False

    def send(self, item: OutboxItem) -> Finished | None:
        """Perform the reply's remaining actions. Delivered: what to record (the caller
        records it); otherwise the retry or the burial is recorded here and None returned."""
        started = time.perf_counter()
        step = item.step
        try:
            for step in range(item.step, len(item.actions)):
                self._perform(item.conversation, item.random_id, item.actions[step])
                if step + 1 < len(item.actions):
                    self.store.complete_step(item.id, step + 1, self.clock() + LEASE_SECONDS)
        except ApiFailure as failure:
            self._failed(item.id, item.conversation, item.deadline, item.attempts, step, failure)
            return None
        except AnswerTemplateError as error:
            self.store.bury(item.id, str(error), self.clock())
            log.error("at=error event=reply_dead id=%d error=%r", item.id, str(error))
            return None
        status = "dry_run" if self.client is None else "done"
        log.info(
            "at=info event=delivered id=%d conversation=%s rule=%s attempt=%d status=%s ms=%d",
            item.id,
            item.conversation,
            item.rule_id,
            item.attempts,
            status,
            (time.perf_counter() - started) * 1000,
        )
        return Finished(item.id, status, self.clock())

    def _perform(self, conversation: str, random_id: int, action: dict[str, Any]) -> None:
        kind = action["do"]
        if kind == "reply":
            body = self._reply_body(action)
            if self.client is None:
                log.info("at=info event=dry_run conversation=%s body=%r", conversation, body)
            else:
                self.client.reply(conversation, body, random_id)
        elif self.client is None:
            log.info("at=info event=dry_run conversation=%s action=%s", conversation, kind)
        elif kind == "tag":
            self.client.add_tag(conversation, action["tag"])
        elif kind == "assign":
            self.client.assign(conversation, action["admin"])
        elif kind == "props":
            values = self._rendered(action, action["props"])
            if values:  # a property whose template renders empty is not sent
                self.client.set_props(action["lead"], values)
        elif kind == "event":
            params = dict(self._rendered(action, action["params"]))
            self.client.track_event(action["lead"], action["event"], params, action["created"])
        else:
            raise ApiFailure(f"unknown action {kind!r}", retryable=False)

    def _rendered(self, action: dict[str, Any], pairs: list[list[str]]) -> list[tuple[str, str]]:
        """(name, value) of the templates that render to something, the lead's name fetched
        only when one of them uses it."""
        templates = [(name, compile_answer(source)) for name, source in pairs]
        name = None
        if self.client is not None and any(t.uses_lead for _, t in templates):
            name = self.client.lead_name(action["lead"])
        rendered = [(key, t.render(action.get("match"), name)) for key, t in templates]
        return [(key, value) for key, value in rendered if value]

    def _reply_body(self, action: dict[str, Any]) -> str:
        if "body" in action:
            return action["body"]
        lead = action.get("lead")
        name = self.client.lead_name(lead) if self.client is not None and lead else None
        return compile_answer(action["template"]).render(action.get("match"), name)

    def _failed(
        self,
        item_id: int,
        conversation: str,
        deadline: float,
        attempts: int,
        step: int,
        failure: ApiFailure,
    ) -> None:
        now = self.clock()
        if failure.status in (401, 403) and not self._warned_about_token:
            self._warned_about_token = True
            log.critical(
                "at=critical event=api_key_rejected status=%d hint=%r",
                failure.status,
                "Dashly refused DASHLY_API_TOKEN: check the API key in Dashly's settings",
            )
        error = str(failure)
        when = now + retry_delay(attempts, failure.retry_after, self.rng)
        if failure.retryable and when < deadline:
            self.store.retry_later(item_id, when, error)
            log.warning(
                "at=warning event=delivery_retry id=%d conversation=%s step=%d attempt=%d "
                "in_s=%.1f error=%r",
                item_id,
                conversation,
                step,
                attempts,
                when - now,
                error,
            )
        else:
            self.store.bury(item_id, error, now)
            log.error(
                "at=error event=reply_dead id=%d conversation=%s step=%d attempts=%d error=%r",
                item_id,
                conversation,
                step,
                attempts,
                error,
            )
