"""One step of a queued item as a call to Dashly's Web API (or, in a dry run, a log line)."""

from __future__ import annotations

import logging
from dataclasses import replace

from app.actions import Action, Assign, Close, Event, Note, Props, Reply, Tag
from app.dashly.client import ApiFailure, DashlyClient
from app.rules.templates import compile_answer
from app.store import OutboxItem, Store
from app.text import echo_key

log = logging.getLogger(__name__)


class Calls:
    """Performs the steps of queued items: texts rendered (the lead's name fetched only when a
    template uses it), then the call; `client` None is a dry run."""

    def __init__(self, store: Store, client: DashlyClient | None) -> None:
        self.store = store
        self.client = client

    def perform(self, item: OutboxItem, action: Action) -> str | None:
        """Make the step's call; what Dashly refused while accepting the call (`$email (Invalid
        email)`: listed as "not saved"), or None. Raises ApiFailure when the call failed."""
        conversation = item.conversation
        if isinstance(action, Reply | Note):
            body = self._text(action)
            if isinstance(action, Reply) and action.body is None:
                # Rendered now: record what it says, so that its echo is still recognised.
                self.store.record_reply_key(item.id, echo_key(body))
            if self.client is None:
                log.info("event=dry_run conversation=%s %s=%r", conversation, action.kind, body)
            elif isinstance(action, Reply):
                self.client.reply(conversation, body, item.random_id)
            else:
                self._note(conversation, action, body)
        elif self.client is None:
            log.info("event=dry_run conversation=%s action=%s", conversation, action.kind)
        elif isinstance(action, Tag):
            self.client.add_tag(conversation, action.tag)
        elif isinstance(action, Assign):
            self.client.assign(conversation, action.admin)
        elif isinstance(action, Close):
            self.client.close(conversation, action.random_id)
        elif isinstance(action, Props):
            values = self._rendered(action.lead, action.match, action.props)
            if values:  # a property whose template renders empty is not sent
                return not_saved(self.client.set_props(action.lead, values), item)
        elif isinstance(action, Event):
            params = dict(self._rendered(action.lead, action.match, action.params))
            self.client.track_event(action.lead, action.event, params)
        else:
            raise ApiFailure(f"unknown action {action.kind!r}", retryable=False)
        return None

    def _note(self, conversation: str, note: Note, body: str) -> None:
        """A note for the operators; refused as too long, once more without the quote."""
        assert self.client is not None
        try:
            self.client.reply(conversation, body, note.random_id, note=True)
        except ApiFailure as failure:
            if failure.code != "ReplyTooBig" or not note.message:
                raise
            log.warning("event=note_too_big conversation=%s", conversation)
            shorter = self._text(replace(note, message=""))
            self.client.reply(conversation, shorter, note.random_id, note=True)

    def show_typing(self, item: OutboxItem) -> None:
        """Best effort, one try: a failure is logged and the answer goes anyway."""
        if self.client is None:
            log.info("event=dry_run conversation=%s action=typing", item.conversation)
            return
        try:
            self.client.show_typing(item.conversation)
        except ApiFailure as failure:
            log.warning(
                "event=typing_failed conversation=%s error=%r",
                item.conversation,
                str(failure),
            )

    def _rendered(
        self, lead: str, groups: dict[str, str], pairs: list[list[str]]
    ) -> list[tuple[str, str]]:
        """(name, value) of the templates that render to something, the lead's name fetched
        only when one of them uses it."""
        templates = [(name, compile_answer(source)) for name, source in pairs]
        name = None
        if self.client is not None and any(t.uses_lead for _, t in templates):
            name = self.client.lead_name(lead)
        rendered = [(key, t.render(groups, name)) for key, t in templates]
        return [(key, value) for key, value in rendered if value]

    def _text(self, action: Reply | Note) -> str:
        if isinstance(action, Reply) and action.body is not None:
            return action.body
        lead = action.lead
        name = self.client.lead_name(lead) if self.client is not None and lead else None
        if isinstance(action, Note):
            template = compile_answer(action.template, with_message=True)
            return template.render(action.match, name, action.message)
        return compile_answer(action.template or "").render(action.match, name, None)


def not_saved(refused: list[tuple[str, str]], item: OutboxItem) -> str | None:
    """The properties Dashly refused, logged one line each, as the item's remark."""
    for key, reason in refused:
        log.warning(
            "event=prop_not_saved conversation=%s rule=%s property=%r reason=%r",
            item.conversation,
            item.rule_id,
            key,
            reason,
        )
    if not refused:
        return None
    return "; ".join(f"{key} ({reason})" for key, reason in refused)
