"""Every key a `[[rule]]` table may have, in one table: the unknown-key message is checked
against it, and docs/rules.md's reference table is generated from it (`make docs`; a test
keeps the two the same). What each key does is read in app/rules/validation.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RuleKey:
    """One row of the reference: its key (or two keys that go together), the type of value it
    takes and its meaning, as docs/rules.md shows them (Markdown)."""

    names: tuple[str, ...]
    type: str
    meaning: str


RULE_KEYS: tuple[RuleKey, ...] = (
    RuleKey(
        ("id",),
        "string",
        "required, unique across all files; letters, digits, `-` and `_`",
    ),
    RuleKey(
        ("phrases",),
        "list of strings",
        "whole words, in order and next to each other, anywhere in the message, in any case; "
        "each word also matches its other forms in Russian and English (`живой человек` "
        "matches `живого человека`, `order` matches `ordered`); a space matches any run of "
        "spaces",
    ),
    RuleKey(
        ("exact",),
        "bool",
        "`true`: this rule's phrases match only as written (no other forms); `typos` still applies",
    ),
    RuleKey(
        ("examples",),
        "list of strings",
        "example questions in the leads' own words; a message close enough in meaning to them "
        'gets this rule (see "Example questions"). Alone or beside phrases and patterns',
    ),
    RuleKey(
        ("min_similarity",),
        "number 0-1",
        "the confidence a message needs to get this rule by its examples (since 0.4.0; "
        "before, the similarity); unset: `MATCH_MIN_SIMILARITY`, else the threshold "
        "calibrated from the rules",
    ),
    RuleKey(
        ("patterns",),
        "list of strings",
        "regular expressions ([`regex`](https://pypi.org/project/regex/) syntax, "
        "case-insensitive with full case folding), searched anywhere in the message",
    ),
    RuleKey(
        ("answer", "answers"),
        "string / list",
        "the reply; with several, one is picked at random. Exactly one of the two",
    ),
    RuleKey(
        ("priority",),
        "integer, default 0",
        "higher is tried first; at equal priorities a rule in the lead's language comes first "
        "(its `language`, else its answers' letters), then a phrase or pattern before "
        "examples, then file order and order in the file",
    ),
    RuleKey(
        ("fallback",),
        "bool",
        "answers a lead message no other rule matched; takes no phrases, patterns or examples",
    ),
    RuleKey(
        ("repeat",),
        "bool",
        "by default a rule answers at most once per conversation; `true` lets it answer every time",
    ),
    RuleKey(
        ("hours",),
        "string or list",
        'the rule answers only inside these hours, e.g. `"mon-fri 09:00-18:00"`',
    ),
    RuleKey(
        ("outside_hours",),
        "string or list",
        "the rule answers only outside these hours (the out-of-office answer)",
    ),
    RuleKey(
        ("timezone",),
        "IANA name",
        "the time zone of this rule's hours; default `BOT_TIMEZONE`",
    ),
    RuleKey(
        ("tag",),
        "string or list",
        "tags added to the conversation once the reply is sent",
    ),
    RuleKey(
        ("assign",),
        "operator id",
        "hands the conversation to that operator once the reply is sent; the bot is then "
        "silent there",
    ),
    RuleKey(
        ("note",),
        "text",
        "a note only the operators see, sent after the answer; may quote the lead's message "
        "as `{{ message }}` (markup removed) besides `lead` and `match`",
    ),
    RuleKey(
        ("close",),
        "bool",
        "closes the conversation once the answer is sent; not together with `assign`",
    ),
    RuleKey(
        ("language",),
        '`"ru"`, `"en"` or a list',
        "the rule answers only messages in that language, told by their letters (more "
        'Cyrillic than Latin: Russian; Russian written in Latin letters, "zapishite menya na '
        'zavtra", is Russian); a message with no letters (a phone number) is not ruled out. '
        "For fallbacks and out-of-office answers in the lead's language",
    ),
    RuleKey(
        ("typos",),
        "0, 1 or 2",
        "phrases of five or more letters also match with that many typos",
    ),
    RuleKey(
        ("props",),
        "table of name → text",
        "Dashly lead properties set when the rule answers (placeholders allowed; one that "
        "comes out empty is not sent)",
    ),
    RuleKey(
        ("event",),
        "text, 1-255 characters",
        "an event tracked on the lead when the rule answers",
    ),
    RuleKey(
        ("event_params",),
        "table of name → text",
        "the event's parameters (placeholders allowed)",
    ),
    RuleKey(
        ("channels",),
        "list of texts",
        "the rule answers only messages sent through these (the part's `sent_via`; Dashly "
        "documents `web_user`, `email_user`, `app_android`, `app_chrome`, `app_desktop`, "
        "`message_manual`, and for operators and automation `web_panel`, `email_admin`, "
        "`message_auto`); without it, every channel. Another value is allowed, with a `rules "
        "check` warning",
    ),
    RuleKey(
        ("if_tags", "unless_tags"),
        "text or list of texts",
        "the rule answers only when the conversation carries one of these tags / none of them "
        "(the lead's part reports them as `conversation_tags`; tags the bot added count once "
        "Dashly reports them). Otherwise it is skipped like a rule for another channel: the "
        "next matching rule answers. The same tag in both is an error",
    ),
    RuleKey(
        ("first_message",),
        "`true`/`false`, default false",
        "the rule answers only a conversation's first lead message recorded here (a "
        "conversation silent past the retention starts over); `repeat` changes nothing for it",
    ),
)
KNOWN_KEYS: tuple[str, ...] = tuple(name for key in RULE_KEYS for name in key.names)


def reference_table() -> str:
    """docs/rules.md's table of keys, in Markdown."""
    rows = ["| key | type | meaning |", "|---|---|---|"]
    for key in RULE_KEYS:
        names = " / ".join(f"`{name}`" for name in key.names)
        rows.append(f"| {names} | {key.type} | {key.meaning} |")
    return "\n".join(rows) + "\n"


# docs/rules.md holds the table between these two lines.
TABLE_START = "<!-- rule keys: generated from app/rules/keys.py by `make docs` -->\n"
TABLE_END = "<!-- end of rule keys -->\n"


def with_reference_table(page: str) -> str:
    """`page` with the text between TABLE_START and TABLE_END replaced by the table."""
    before, _, rest = page.partition(TABLE_START)
    _, _, after = rest.partition(TABLE_END)
    return before + TABLE_START + reference_table() + TABLE_END + after


def write_reference(page: str) -> None:
    """Rewrite the table in `page` (docs/rules.md): what `make docs` runs."""
    path = Path(page)
    path.write_text(with_reference_table(path.read_text(encoding="utf-8")), encoding="utf-8")
