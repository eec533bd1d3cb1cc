"""Command line: `flask rules check|try` and `flask outbox [retry ID]`.

These are Flask plugin commands that never build the app: `rules check` is needed most when the
configured rules are broken, and no command may start delivery.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click

from app.responder import DELIVERY_WINDOW_SECONDS
from app.rule_warnings import rule_warnings
from app.rules import RulesError, RuleSet, load_rules
from app.settings import Settings, SettingsError, load_settings
from app.store import Store, StoreUnavailable
from app.text import fold, normalise


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        click.echo(f"configuration error:\n{error}", err=True)
        sys.exit(1)


def rules_or_exit(directory: Path, settings: Settings) -> RuleSet:
    try:
        return load_rules(directory, settings.timezone)
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
    click.echo(f"{len(rules)} rules in {len(rules.files)} files")


@rules_group.command("try")
@click.argument("text")
@click.option("--at", "at_text", help='Judge hours at this local time, "YYYY-MM-DD HH:MM".')
@click.option("--name", help="The lead's name, for answers that use {{ lead.name }}.")
def try_command(text: str, at_text: str | None, name: str | None) -> None:
    """Show which rule would answer TEXT, what matched, and the answer."""
    settings = settings_or_exit()
    rules = rules_or_exit(settings.rules_dir, settings)
    at = None
    if at_text:
        try:
            at = datetime.strptime(at_text, "%Y-%m-%d %H:%M").replace(tzinfo=settings.timezone)
        except ValueError:
            raise click.BadParameter('use "YYYY-MM-DD HH:MM"', param_hint="--at") from None
    found = rules.match(text, at)
    if found is None:
        fallback = next(rules.active_fallbacks(at), None)
        if fallback is None:
            click.echo("no match")
            return
        click.echo(f"rule: {fallback.id} (fallback, {fallback.source})")
        click.echo(f"answer: {fallback.answers[0].render({}, name)}")
        return
    start, end = found.span
    rule = found.rule
    seen = fold(normalise(text))[start:end] if found.matched.startswith("phrase") else None
    seen = seen if seen is not None else normalise(text)[start:end]
    click.echo(f"rule: {rule.id} ({rule.source})")
    click.echo(f"matched: {found.matched} on {seen!r} at characters {start}-{end}")
    for key, value in found.groups.items():
        click.echo(f"  match.{key} = {value!r}")
    for number, answer in enumerate(rule.answers, start=1):
        label = "answer" if len(rule.answers) == 1 else f"answer {number}/{len(rule.answers)}"
        click.echo(f"{label}: {answer.render(found.groups, name)}")


@click.group("outbox", invoke_without_command=True)
@click.pass_context
def outbox_group(context: click.Context) -> None:
    """List pending and dead replies; `outbox retry ID` sends a dead one again."""
    if context.invoked_subcommand is not None:
        return
    store = open_store()
    items = store.outbox()
    if not items:
        click.echo("outbox empty: no pending or dead replies")
        return
    click.echo(f"{'id':>6}  {'status':8} {'conversation':20} {'rule':20} {'tries':>5}  last error")
    for item in items:
        click.echo(
            f"{item.id:>6}  {item.status:8} {item.conversation:20} {item.rule_id:20} "
            f"{item.attempts:>5}  {item.last_error or '-'}"
        )


@outbox_group.command("retry")
@click.argument("item_id", type=int)
def retry_command(item_id: int) -> None:
    """Queue dead reply ID again; a running service sends it within a second or two."""
    store = open_store()
    now = time.time()
    if not store.revive(item_id, now, now + DELIVERY_WINDOW_SECONDS):
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
