"""Answers with placeholders: `{{ lead.name }}`, `{{ match.NAME }}`, rendered in Jinja's sandbox."""

from __future__ import annotations

import difflib
import functools
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from app.text import safe_value

# Bounds on what an answer template may do (it is the owner's, but a typo or a paste must not
# tie up a worker): a repeated string or list at most this long, ranges at most this long, and
# a whole rendering at most this many seconds.
MAX_REPEAT = 10_000
MAX_RANGE = 1_000
RENDER_SECONDS = 1.0


class _BoundedEnvironment(SandboxedEnvironment):
    """Jinja's sandbox, with what can allocate without running a line of Python checked:
    `'x' * 200000000` would build 200 MB, `'x'.center(300000000)` 300 MB, and printing
    `[[1]*10000]*5000` 50 million items."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and any(isinstance(side, str | list | tuple) for side in (left, right)):
            count = right if isinstance(right, int) else left
            sized = left if isinstance(right, int) else right
            if isinstance(count, int) and _weight(sized) * max(count, 0) > MAX_REPEAT:
                raise SecurityError(f"a repeated text or list over {MAX_REPEAT} long")
        if operator == "**" and isinstance(right, int) and right > 64:
            raise SecurityError("a power over 64")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # A text's methods (`center`, `zfill`, `format`, `replace`, ...) are checked like the
        # filters of the same names.
        # (The sandbox hands out `str.format` wrapped: its text is the wrapped method's.)
        method = getattr(__obj, "__wrapped__", __obj)
        if isinstance(getattr(method, "__self__", None), str):
            _check_arguments(method.__name__, method.__self__, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _weight(value: Any, seen: dict[int, int] | None = None) -> int:
    """How many characters and items printing `value` touches (a list held many times is
    counted each time, worked out once)."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple):
        return 1
    seen = {} if seen is None else seen
    if id(value) not in seen:
        seen[id(value)] = 0  # a list inside itself counts once
        seen[id(value)] = len(value) + sum(_weight(item, seen) for item in value)
    return seen[id(value)]


def _check_arguments(name: str, value: Any, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Refuse what would build a text or list over MAX_REPEAT: a width, count or indent
    over it (`center`, `indent`, `batch`, `tojson`, ...), a format spec asking for one, or a
    `replace` whose result would be."""
    for argument in (*args, *kwargs.values()):
        number = isinstance(argument, int | float) and not isinstance(argument, bool)
        if number and abs(argument) > MAX_REPEAT:
            raise SecurityError(f"{name}: a number over {MAX_REPEAT}")
    if name in ("format", "format_map") and isinstance(value, str):
        widths = [n for found in _FORMAT_WIDTH.findall(value) for n in found if n]
        if any(len(width) > 5 or int(width) > MAX_REPEAT for width in widths):
            raise SecurityError(f"format: a width over {MAX_REPEAT}")
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = value.count(old) if old else len(value) + 1
        if len(value) + count * max(len(new) - len(old), 0) > MAX_REPEAT:
            raise SecurityError(f"replace: a result over {MAX_REPEAT} long")


# A width or precision in a %-format or a {}-format spec ("%300000000s", "{:>300000000}").
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d+)|%[-#0 +]*\d*\.(\d+)|\{[^{}]*:[^{}\d]*(\d+)")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    # A filter marked to take the context or environment gets it before the value.
    value_at = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value = args[value_at] if len(args) > value_at else None
        _check_arguments(name, value, args[value_at + 1 :], kwargs)
        return function(*args, **kwargs)

    return bounded


def _bounded_range(*arguments: int) -> range:
    found = range(*arguments)
    if len(found) > MAX_RANGE:
        raise SecurityError(f"a range over {MAX_RANGE} long")
    return found


# No autoescape: the reply is chat text, and escaping would turn O'Brien into O&#39;Brien. Values
# from the lead are stripped of markup instead (`safe_value`) before they are inserted.
_ENVIRONMENT = _BoundedEnvironment(autoescape=False, keep_trailing_newline=False)
_ENVIRONMENT.globals["range"] = _bounded_range
_ENVIRONMENT.filters = {
    name: _bounded_filter(name, function) for name, function in _ENVIRONMENT.filters.items()
}


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Stop Python code run in this thread (a template's loops) after `seconds`: a trace
    function checks the clock on each line and raises. Only around a rendering: a template
    is a few lines, so the cost is small there."""
    ends = time.monotonic() + seconds

    def tracer(frame: Any, event: str, argument: Any) -> Any:
        if time.monotonic() > ends:
            raise TemplateTooSlow(f"answer template: took over {seconds:g} s")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class TemplateTooSlow(TemplateError):
    """A rendering cut off by its deadline."""


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
        try:
            with _deadline(RENDER_SECONDS):
                return self.template.render(lead=lead, match=groups, message=said).strip()
        except TemplateError:
            raise  # the sandbox's own words; compile_answer words them for the owner
        except (ArithmeticError, ValueError, TypeError, LookupError) as error:
            # `{{ 1/0 }}`, `range(1, 2, 0)`: the owner's template, not the service, is wrong.
            raise AnswerTemplateError(f"answer template: {error}") from error


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
        parsed = _ENVIRONMENT.parse(source)
        names = meta.find_undeclared_variables(parsed)
        known = {"lead", "match", "message"} if with_message else {"lead", "match"}
        unknown = names - known
        if unknown:
            usable = (
                "lead.name, match.NAME or message" if with_message else "lead.name or match.NAME"
            )
            raise AnswerTemplateError(
                f"unknown placeholder {', '.join(sorted(unknown))}; use {usable}"
            )
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
            template=_ENVIRONMENT.from_string(parsed),
            groups=frozenset(attributes_of(parsed, "match")),
        )
        answer.render({}, None)  # a filter that fails on undefined values fails here, not later
        return answer
    except TemplateTooSlow as error:
        raise AnswerTemplateError(str(error)) from error
    except TemplateError as error:
        raise AnswerTemplateError(f"answer template: {error.message}") from error
    except (RecursionError, MemoryError) as error:
        raise AnswerTemplateError("answer template: nested too deeply") from error
