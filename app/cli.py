"""Command line: `flask rules check|try|replay`, `flask outbox [retry ID]` and
`flask insights [forget]`.

These are Flask plugin commands that never build the app: `rules check` is needed most when the
configured rules are broken, and no command may start delivery.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click

from app.handling import DELIVERY_WINDOW_SECONDS
from app.insight import build_insights
from app.insight.replay import replay
from app.rules import RulesError, RuleSet, load_rules
from app.rules.explain import Conversation, explain
from app.rules.warnings import example_thresholds, rule_warnings
from app.settings import Settings, SettingsError, load_settings
from app.store import Store, StoreUnavailable
from app.text import clean


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        click.echo(f"configuration error:\n{error}", err=True)
        sys.exit(1)


def rules_or_exit(directory: Path, settings: Settings) -> RuleSet:
    try:
        return load_rules(directory, settings.timezone, settings.match_min_similarity)
    except RulesError as error:
        click.echo(str(error), err=True)
        sys.exit(1)


@click.group("rules")
def rules_group() -> None:
    """Check rule files and try messages against them."""


@rules_group.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def check_command(directory: Path | None) -> None:
    """Validate the rule files: a summary, or one `file:line: message` per problem."""
    settings = settings_or_exit()
    rules = rules_or_exit(directory or settings.rules_dir, settings)
    for warning in rule_warnings(rules):
        click.echo(warning, err=True)
    if (thresholds := example_thresholds(rules)) is not None:
        click.echo(thresholds, err=True)
    click.echo(f"{len(rules)} rules in {len(rules.files)} files")


@rules_group.command("try")
@click.argument("text")
@click.option("--at", "at_text", help='Judge hours at this local time, "YYYY-MM-DD HH:MM".')
@click.option("--name", help="The lead's name, for answers that use {{ lead.name }}.")
@click.option(
    "--rules", "directory", type=click.Path(path_type=Path), help="Rules folder (RULES_DIR)."
)
@click.option("--channel", default="", help="The part's sent_via, e.g. web_user.")
@click.option("--tag", "tags", multiple=True, help="A tag the conversation carries (repeatable).")
@click.option("--assigned", is_flag=True, help="The conversation is assigned to a person.")
@click.option("--not-first", is_flag=True, help="Not the conversation's first lead message.")
def try_command(
    text: str,
    at_text: str | None,
    name: str | None,
    directory: Path | None,
    channel: str,
    tags: tuple[str, ...],
    assigned: bool,
    not_first: bool,
) -> None:
    """Show which rule would answer TEXT, what matched, and the answer (by default for the
    first message of an untagged, unassigned conversation on any channel)."""
    settings = settings_or_exit()
    rules = rules_or_exit(directory or settings.rules_dir, settings)
    if assigned and settings.quiet_when_assigned:
        click.echo("ignored: the conversation is assigned to a person (QUIET_WHEN_ASSIGNED)")
        return
    at = None
    if at_text:
        try:
            at = datetime.strptime(at_text, "%Y-%m-%d %H:%M").replace(tzinfo=settings.timezone)
        except ValueError:
            raise click.BadParameter('use "YYYY-MM-DD HH:MM"', param_hint="--at") from None
    conversation = Conversation(channel, frozenset(tags), first=not not_first)
    for line in explain(rules, text, at, name, conversation).lines():
        click.echo(line)


@rules_group.command("replay")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 3650))
def replay_command(directory: Path | None, days: int) -> None:
    """Run the rules in DIRECTORY over the stored lead messages of the last DAYS days."""
    settings = settings_or_exit()
    rules = rules_or_exit(directory or settings.rules_dir, settings)
    messages = open_store().stored_messages(time.time() - days * 86400)
    with click.progressbar(
        length=len(messages), label="replaying", file=sys.stderr, show_pos=True
    ) as bar:
        result = replay(rules, messages, lambda: bar.update(1))
    click.echo(
        f"{result.messages} stored lead messages of the last {days} days; "
        f"{result.unanswered} were unanswered"
    )
    now = sum(result.newly_counts.values())
    click.echo(f"\nthese rules would now answer {now} of them:")
    for rule_id, count in sorted(result.newly_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {count:>6}  {rule_id}")
        for example in result.newly[rule_id]:
            click.echo(f"          e.g. {clean(example)!r}")
    changed = sum(result.changed_counts.values())
    click.echo(f"\nanswered messages that would get another rule: {changed}")
    for (before, after), count in sorted(result.changed_counts.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {count:>6}  {before} -> {after}")
        for example in result.changed[before, after]:
            click.echo(f"          e.g. {clean(example)!r}")


@click.group("outbox", invoke_without_command=True)
@click.pass_context
def outbox_group(context: click.Context) -> None:
    """List pending, dead and cancelled replies; `outbox retry ID` sends a dead one again."""
    if context.invoked_subcommand is not None:
        return
    store = open_store()
    items, refused = store.outbox(), store.not_saved()
    for item in store.failed_steps():
        for kind, why in item.failed_steps:
            click.echo(
                f"failed step: conversation {item.conversation}, rule {item.rule_id}: "
                f"{kind} ({clean(why)})"
            )
    for item in refused:
        click.echo(
            f"not saved: conversation {item.conversation}, rule {item.rule_id}: "
            f"{clean(item.last_error or '')}"
        )
    if not items:
        click.echo("outbox empty: no pending, dead or cancelled replies")
        return
    click.echo(
        f"{'id':>6}  {'status':9} {'conversation':20} {'rule':20} {'tries':>5}  "
        "last error or reason"
    )
    for item in items:
        click.echo(
            f"{item.id:>6}  {item.status:9} {item.conversation:20} {item.rule_id:20} "
            f"{item.attempts:>5}  {clean(item.last_error or '-')}"
        )


@outbox_group.command("retry")
@click.argument("item_id", type=int)
def retry_command(item_id: int) -> None:
    """Queue dead reply ID again; a running service sends it within a second or two."""
    store = open_store()
    now = time.time()
    if not 0 < item_id < 2**63 or not store.revive(item_id, now, now + DELIVERY_WINDOW_SECONDS):
        click.echo(f"no dead reply with id {item_id}", err=True)
        sys.exit(1)
    click.echo(f"reply {item_id} queued again")


def open_store() -> Store:
    store = Store(settings_or_exit().database_url)
    try:
        store.migrate()
    except StoreUnavailable as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    return store


@click.group("insights", invoke_without_command=True)
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365))
@click.pass_context
def insights_command(context: click.Context, days: int) -> None:
    """What leads asked in the last DAYS days: hits per rule, replies, unanswered questions;
    `insights forget` deletes stored message texts."""
    if context.invoked_subcommand is not None:
        return
    settings = settings_or_exit()
    rules = rules_or_exit(settings.rules_dir, settings)
    report = build_insights(open_store(), time.time(), days, settings.timezone, rules)
    click.echo(
        f"last {days} days: {report.messages} lead messages, {report.answered} answered by a "
        f"rule, {report.unanswered} unanswered, {report.silent} left to a human"
    )
    counts = report.outbox
    click.echo(
        f"replies: {counts.get('done', 0)} sent, {counts.get('dry_run', 0)} dry run, "
        f"{counts.get('pending', 0) + counts.get('sending', 0)} pending, "
        f"{counts.get('dead', 0)} dead"
    )
    click.echo("\nwhich answers work (within an hour after: a human still wrote / the lead wrote")
    click.echo("again unanswered), worst first:")
    click.echo(f"  {'answers':>7} {'human':>6} {'again':>6}  rule")
    for result in report.results:
        note = f"  ({result.note})" if result.note else ""
        click.echo(
            f"  {result.answers:>7} {result.human:>6} {result.again:>6}  {result.rule_id}{note}"
        )
        for text in report.latest.get(result.rule_id, ()):
            click.echo(f"  {'':>21}  answered: {clean(text)}")
    if not report.results:
        click.echo("  (no rule answered)")
    if report.never_fired:
        click.echo(f"never answered in these {days} days: {', '.join(report.never_fired)}")
    click.echo(
        f"\nunanswered questions, grouped from the latest {report.grouped} unanswered messages"
        f" ({report.groups_shown_of}, as on /admin):"
    )
    if not report.groups:
        click.echo("  (none)")
    for group in report.shown_groups:
        click.echo(f"  {group.count:>6}  {clean(group.example)}")  # a lead's words: no controls
        for text in group.farthest:
            click.echo(f"  {'':>6}    also: {clean(text)}")


@insights_command.command("forget")
@click.option(
    "--older-than-days",
    type=click.IntRange(0, 3650),
    default=0,
    show_default=True,
    help="Delete only texts older than this many days (0: every stored text).",
)
def forget_command(older_than_days: int) -> None:
    """Delete stored lead message texts now (the figures stay)."""
    removed = open_store().forget_texts(time.time() - older_than_days * 86400)
    click.echo(f"{removed} stored message texts deleted")
