"""What a rule asks of the message and its conversation (docs/rules.md): the channel it came
through (`channels`), its language (`language`), the tags the conversation carries
(`if_tags`, `unless_tags`); whether this is its first lead message (`first_message`) is a
plain boolean."""

from __future__ import annotations

from app.rules.reader import RuleReader

# Dashly's limit on a tag's length.
MAX_TAG_CHARS = 255


def read_tag_condition(reader: RuleReader, key: str) -> frozenset[str]:
    """`if_tags` / `unless_tags`: a tag or a list of them, each 1-255 characters."""
    tags = [tag.strip() for tag in reader.strings(key, single_allowed=True)]
    if any(not tag or len(tag) > MAX_TAG_CHARS for tag in tags) or (
        key in reader.table and not tags and not reader.failed
    ):
        reader.problem(key, f"{key!r} must be a tag (1-{MAX_TAG_CHARS} characters) or a list")
        return frozenset()
    return frozenset(tags)


def read_tag_conditions(reader: RuleReader) -> tuple[frozenset[str], frozenset[str]]:
    """Both conditions; a tag in both means the rule can never answer: a problem."""
    wanted, unwanted = (
        read_tag_condition(reader, "if_tags"),
        read_tag_condition(reader, "unless_tags"),
    )
    both = sorted(wanted & unwanted)
    if both:
        reader.problem(
            "unless_tags",
            f"tag {both[0]!r} is in both 'if_tags' and 'unless_tags': the rule could never answer",
        )
    return wanted, unwanted


# The languages a message is told to be in by its letters (app.text.language_of).
LANGUAGES = ("ru", "en")


def read_channels(reader: RuleReader) -> frozenset[str]:
    channels = reader.strings("channels")
    if "channels" in reader.table and not channels and not reader.failed:
        reader.problem("channels", "'channels' must not be empty (leave it out for every channel)")
    return frozenset(channel.strip() for channel in channels if channel.strip())


def read_languages(reader: RuleReader) -> frozenset[str]:
    chosen = reader.strings("language", single_allowed=True)
    wrong = [value for value in chosen if value not in LANGUAGES]
    if wrong or ("language" in reader.table and not chosen and not reader.failed):
        allowed = " or ".join(map(repr, LANGUAGES))
        reader.problem("language", f"'language' must be {allowed} or a list of them")
        return frozenset()
    return frozenset(chosen)
