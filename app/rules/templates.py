"""Answers with placeholders: `{{ lead.name }}`, `{{ match.NAME }}`, rendered in Jinja's sandbox."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import Template, TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from app.text import safe_value

# No autoescape: the reply is chat text, and escaping would turn O'Brien into O&#39;Brien. Values
# from the lead are stripped of markup instead (`safe_value`) before they are inserted.
_ENVIRONMENT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class AnswerTemplateError(ValueError):
    """An answer that Jinja cannot compile."""


@dataclass(frozen=True)
class Answer:
    """One possible reply of a rule; `source` is the owner's text."""

    source: str
    uses_lead: bool = False
    template: Template | None = field(default=None, compare=False, repr=False)
    # The pattern groups it names (`{{ match.NAME }}`): the rule's patterns must have them.
    groups: frozenset[str] = frozenset()

    def render(
        self,
        match: Mapping[str, str] | None = None,
        lead_name: str | None = None,
        message: str | None = None,
    ) -> str:
        """The reply text; a lead's values (and, in a note, the lead's message) are inserted
        as data, never run as a template."""
        if self.template is None:
            return self.source
        lead: dict[str, str] = {}
        if lead_name:
            lead["name"] = safe_value(lead_name)
        groups = {k: safe_value(v) for k, v in (match or {}).items() if v is not None}
        said = safe_value(message) if message else ""
        return self.template.render(lead=lead, match=groups, message=said).strip()


# What `lead.` may name: the lead's properties fetched at delivery.
LEAD_FIELDS = frozenset({"name"})


def attributes_of(parsed: nodes.Template, variable: str) -> set[str]:
    """The attributes a template reads of `variable` (`lead.name`, `match["x"]` too)."""
    found = set()
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == variable:
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.add(node.arg.value)
    return found


# Cached: delivery renders the same few templates over and over, and compiling one with Jinja
# costs milliseconds of CPU where rendering costs microseconds.
@lru_cache(maxsize=1024)
def compile_answer(source: str, with_message: bool = False) -> Answer:
    """Check the answer's template syntax now, so that a typo is a load error, not a bad reply.
    `with_message`: a note, which may also insert the lead's message (`{{ message }}`)."""
    if "{{" not in source and "{%" not in source:
        return Answer(source=source)
    try:
        names = meta.find_undeclared_variables(_ENVIRONMENT.parse(source))
        known = {"lead", "match", "message"} if with_message else {"lead", "match"}
        unknown = names - known
        if unknown:
            usable = (
                "lead.name, match.NAME or message" if with_message else "lead.name or match.NAME"
            )
            raise AnswerTemplateError(
                f"unknown placeholder {', '.join(sorted(unknown))}; use {usable}"
            )
        parsed = _ENVIRONMENT.parse(source)
        wrong = sorted(
            f"lead.{attribute}" for attribute in attributes_of(parsed, "lead") - LEAD_FIELDS
        )
        if wrong:
            close = difflib.get_close_matches(wrong[0][5:], LEAD_FIELDS, n=1)
            hint = f" (did you mean lead.{close[0]}?)" if close else ""
            raise AnswerTemplateError(
                f"unknown placeholder {', '.join(wrong)}{hint}; the lead's fields: "
                + ", ".join(f"lead.{name}" for name in sorted(LEAD_FIELDS))
            )
        answer = Answer(
            source=source,
            uses_lead="lead" in names,
            template=_ENVIRONMENT.from_string(source),
            groups=frozenset(attributes_of(parsed, "match")),
        )
        answer.render({}, None)  # a filter that fails on undefined values fails here, not later
        return answer
    except TemplateError as error:
        raise AnswerTemplateError(f"answer template: {error.message}") from error
