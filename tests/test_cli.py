"""The command line: `flask rules check|try` and `flask outbox [retry ID]`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.actions import Props, Reply
from app.cli import outbox_group, rules_group
from app.store import FailureKind, Finished, LeadOutcome, NewReply, Store
from tests.helpers import EXAMPLE_RULES, ROOT, write_rules


@pytest.fixture
def runner(sqlite_url: str) -> CliRunner:
    return CliRunner(env={"RULES_DIR": str(EXAMPLE_RULES), "DATABASE_URL": sqlite_url})


def test_rules_check_summarises_valid_rules(runner: CliRunner) -> None:
    result = runner.invoke(rules_group, ["check"])
    assert result.exit_code == 0
    assert result.stdout == "18 rules in 4 files\n"
    # What the example decision asks, on stderr beside the warnings.
    assert result.stderr.startswith("examples: 12 in 2 rules; confidence threshold 0.08")


def test_rules_check_lists_every_problem_with_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    write_rules(tmp_path, '[[rule]]\nid = "a"\nphrases = ["x"]\nanswr = "y"\n', "1.toml")
    write_rules(tmp_path, '[[rule]]\nid = "b"\npatterns = [\'(\']\nanswer = "y"\n', "2.toml")
    result = runner.invoke(rules_group, ["check", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"{tmp_path}/1.toml:4: rule 'a': unknown key 'answr'")
    assert lines[1].startswith(f"{tmp_path}/1.toml:1: rule 'a': needs exactly one of")
    assert lines[2].startswith(f"{tmp_path}/2.toml:3: rule 'b': pattern '(' is not a valid")


def test_rules_check_works_through_flask_when_the_configured_rules_are_broken(
    tmp_path: Path,
) -> None:
    write_rules(tmp_path, '[[rule]]\nid = "a"\nphrases = ["x"]\nanswer = 1\n')
    env = {
        "RULES_DIR": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),
        "FLASK_APP": "app",
        "FLASK_SKIP_DOTENV": "1",  # this clone's .env is the owner's
    }
    broken = subprocess.run(
        [Path(sys.executable).parent / "flask", "--app", "app", "rules", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 1
    assert f"{tmp_path}/rules.toml:4: rule 'a': 'answer' must be a string" in broken.stderr
    good = subprocess.run(
        [Path(sys.executable).parent / "flask", "rules", "check", str(EXAMPLE_RULES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (good.returncode, good.stdout) == (0, "18 rules in 4 files\n")


def test_rules_try_shows_rule_what_matched_and_the_answer(runner: CliRunner) -> None:
    result = runner.invoke(rules_group, ["try", "Hello, how are you", "--at", "2026-11-25 12:00"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"rule: how-are-you ({EXAMPLE_RULES}/10-shop-en.toml:39)",
        "matched: phrase 'how are you' on 'how are you' at characters 7-18",
        "answer: Doing great, thanks for asking! What can I do for you?",
        "runner-up: greeting, phrase 'hello' (only small talk: it yields to the rest of the "
        "message)",
        "judged at Wed 2026-11-25 12:00 UTC",
    ]
    hours = runner.invoke(
        rules_group, ["try", "where are my deliveries?", "--at", "2026-11-28 12:00"]
    )
    assert hours.output.splitlines()[1] == (
        "matched: a word form of phrase 'delivery' on 'deliveries' at characters 13-23"
    )


def test_rules_try_falls_back_or_says_no_match(runner: CliRunner, tmp_path: Path) -> None:
    saturday = runner.invoke(rules_group, ["try", "zzz", "--at", "2026-11-28 12:00"]).output
    assert saturday.startswith("rule: out-of-office (fallback")
    friday = runner.invoke(rules_group, ["try", "zzz", "--at", "2026-11-27 12:00"]).output
    assert friday.startswith("rule: fallback (fallback")
    write_rules(tmp_path, '[[rule]]\nid = "a"\nphrases = ["x"]\nanswer = "y"\n')
    result = runner.invoke(rules_group, ["try", "zzz"], env={"RULES_DIR": str(tmp_path)})
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "no match"


def test_outbox_lists_pending_and_dead_and_retries_a_dead_one(
    runner: CliRunner, sqlite_url: str
) -> None:
    empty = runner.invoke(outbox_group, []).output
    assert empty == "outbox empty: no pending, dead or cancelled replies\n"
    store = Store(sqlite_url)
    store.migrate()
    for part_id in ("1", "2"):
        reply = NewReply(part_id, "555", "greeting", 7, (Reply(body="Hi"),), 9e9)
        outcome = LeadOutcome("replied", "greeting", reply=reply)
        store.record_lead_message(part_id, "555", 1e9, lambda memory, o=outcome: o)
    dead = store.claim_due(1e9, 60)
    store.bury(
        dead.id, "HTTP 400 from /conversations/555/reply: ValidationError", 1e9, FailureKind.REFUSED
    )

    listing = runner.invoke(outbox_group, []).output.splitlines()
    assert listing[0].split()[:6] == ["id", "status", "conversation", "rule", "tries", "last"]
    assert listing[1].split()[:5] == [str(dead.id), "dead", "555", "greeting", "1"]
    assert "ValidationError" in listing[1]
    assert listing[2].split()[:5] == ["2", "pending", "555", "greeting", "0"]

    result = runner.invoke(outbox_group, ["retry", str(dead.id)])
    assert (result.exit_code, result.output) == (0, f"reply {dead.id} queued again\n")
    assert [item.status for item in store.outbox()] == ["pending", "pending"]
    again = runner.invoke(outbox_group, ["retry", str(dead.id)])
    assert again.exit_code == 1
    assert f"no dead reply with id {dead.id}" in again.output


def test_rules_check_warns_about_shadowed_phrases_and_hours_that_never_occur(
    runner: CliRunner, tmp_path: Path
) -> None:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "a"\nphrases = ["price"]\nanswer = "x"\nrepeat = true\npriority = 1\n'
        '[[rule]]\nid = "b"\nphrases = ["Price", "cost"]\nanswer = "y"\n'
        '[[rule]]\nid = "c"\nphrases = ["cost"]\nanswer = "z"\n'
        '[[rule]]\nid = "d"\nphrases = ["when"]\nanswer = "w"\n'
        'outside_hours = ["mon-sun 00:00-12:00", "daily 12:00-24:00"]\n',
    )
    result = runner.invoke(rules_group, ["check", str(tmp_path)])
    assert result.exit_code == 0
    lines = [line.removeprefix(f"{tmp_path}/") for line in result.output.splitlines()]
    assert lines == [
        f"rules.toml:7: warning: rule 'b': phrase 'price' is also in rule 'a' ({tmp_path}/"
        "rules.toml:1), which comes first; this rule can never answer it",
        f"rules.toml:11: warning: rule 'c': phrase 'cost' is also in rule 'b' ({tmp_path}/"
        "rules.toml:7), which comes first; this rule answers it only after that rule has "
        "answered in the conversation",
        "rules.toml:15: warning: rule 'd': outside_hours covers the whole week, so the rule "
        "never answers",
        "4 rules in 1 files",
    ]


def test_rules_try_at_a_time_and_with_a_name(runner: CliRunner) -> None:
    result = runner.invoke(rules_group, ["try", "hello", "--name", "<i>Zoë</i>"])
    assert "answer: Hi Zoë! How can I help you today?" in result.output.splitlines()
    bad = runner.invoke(rules_group, ["try", "hello", "--at", "tomorrow"])
    assert bad.exit_code == 2
    assert "YYYY-MM-DD HH:MM" in bad.output


def test_nothing_a_lead_or_the_api_wrote_reaches_the_terminal_as_control_codes(
    runner: CliRunner, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    store.migrate()
    reply = NewReply("1", "555", "greeting", 7, (Reply(body="Hi"),), 9e9)
    store.record_lead_message("1", "555", 1e9, lambda m: LeadOutcome("replied", reply=reply))
    dead = store.claim_due(1e9, 60)
    store.bury(
        dead.id, "HTTP 400: \x1b[2J\x1b]0;owned\x07 cleared your screen", 1e9, FailureKind.REFUSED
    )
    listing = runner.invoke(outbox_group, []).output
    assert "\x1b" not in listing and "\x07" not in listing
    assert "cleared your screen" in listing


def test_a_huge_reply_id_is_no_such_reply(runner: CliRunner) -> None:
    result = runner.invoke(outbox_group, ["retry", str(2**70)])
    assert result.exit_code == 1
    assert "no dead reply" in result.output


def test_a_token_with_a_newline_stops_the_start_with_one_line(tmp_path: Path) -> None:
    started = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            f"{ROOT}/gunicorn.conf.py",
            "app.wsgi:app",
        ],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "DASHLY_API_TOKEN": "abc\ndef",
            "RULES_DIR": str(EXAMPLE_RULES),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "configuration error: DASHLY_API_TOKEN holds a control character" in started.stderr
    assert "Traceback" not in started.stderr


def test_an_admin_id_that_is_no_number_stops_the_start_with_one_line(tmp_path: Path) -> None:
    """Not a 400 from Dashly on every call later: the start says what DASHLY_ADMIN_ID takes."""
    started = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "app", "rules", "check"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "DASHLY_ADMIN_ID": "support-bot",
            "RULES_DIR": str(EXAMPLE_RULES),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    problems = [line for line in started.stderr.splitlines() if "DASHLY_ADMIN_ID" in line]
    assert len(problems) == 1
    assert "must be an admin's number" in problems[0] and "default_admin" in problems[0]
    assert "Traceback" not in started.stderr


def test_replay_shows_what_edited_rules_would_answer_and_forget_deletes_texts(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    from app.cli import insights_command

    store = Store(sqlite_url)
    store.migrate()
    now = time.time()
    for part_id, text in (("1", "what is your refund policy"), ("2", "refund please")):
        outcome = LeadOutcome("no_match", text=text, sent_via="web_user")
        store.record_lead_message(part_id, str(600 + int(part_id)), now, lambda m, o=outcome: o)
    draft = tmp_path / "draft"
    write_rules(draft, '[[rule]]\nid = "refund"\nphrases = ["refund"]\nanswer = "Refunds: ..."\n')
    result = runner.invoke(rules_group, ["replay", str(draft), "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "2 stored lead messages of the last 7 days; 2 were unanswered" in result.output
    assert "these rules would now answer 2 of them:" in result.output
    assert "       2  refund" in result.output
    assert "e.g. 'refund please'" in result.output
    forgot = runner.invoke(insights_command, ["forget"])
    assert forgot.output == "2 stored message texts deleted\n"
    assert store.stored_messages(0) == []
    # Gone from the disk too: not in the database file, nor in its write-ahead log.
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            assert b"refund please" not in path.read_bytes(), path


def test_rules_try_lists_every_action_in_the_order_they_go_out(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        '[[rule]]\nid = "bye"\nphrases = ["спасибо, всё"]\nanswer = "Рады помочь!"\n'
        'note = "Закрыто ботом: {{ message }}"\ntag = ["done", "bot"]\nclose = true\n'
        'props = { last_topic = "bye" }\nevent = "bot: closed"\n',
    )
    runner = CliRunner(env={"RULES_DIR": str(tmp_path), "DATABASE_URL": ""})
    result = runner.invoke(rules_group, ["try", "Спасибо, всё <b>понятно</b>"])
    assert result.exit_code == 0
    assert result.output.splitlines()[2:-1] == [
        "answer: Рады помочь!",
        "note for the operators: Закрыто ботом: Спасибо, всё понятно",
        "tag: done",
        "tag: bot",
        "close the conversation",
        "lead property: last_topic = 'bye'",
        "event: bot: closed",
    ]


def test_outbox_lists_properties_dashly_did_not_save(runner: CliRunner, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.migrate()
    action = Props(lead="9", props=[["$email", "x"]])
    reply = NewReply("1", "556", "contact", 7, (Reply(body="Hi"),), 9e9)
    reply = NewReply(**{**reply.__dict__, "lead_actions": (action,)})
    store.record_lead_message("1", "556", 1e9, lambda memory: LeadOutcome("replied", reply=reply))
    for item in store.outbox():
        store.finish_and_claim(
            [Finished(item.id, "done", 1e9, "$email (Invalid email)")], 1e9, 60, 0
        )
    listing = runner.invoke(outbox_group, []).output.splitlines()
    assert listing[:2] == [
        "not saved: conversation 556, rule contact: $email (Invalid email)",
        "not saved: conversation 556, rule contact: $email (Invalid email)",
    ]


def test_insights_never_print_bidirectional_controls(runner: CliRunner, sqlite_url: str) -> None:
    from app.cli import insights_command

    store = Store(sqlite_url)
    store.migrate()
    tricky = "refund \u202eplease\u2066 now"
    outcome = LeadOutcome("no_match", text=tricky, sent_via="web_user")
    store.record_lead_message("9", "900", time.time(), lambda m: outcome)
    printed = runner.invoke(insights_command, []).output
    assert "refund please now" in printed
    assert "\u202e" not in printed and "\u2066" not in printed


def test_rules_try_judges_the_conversation_it_is_told_of(tmp_path: Path, sqlite_url: str) -> None:
    """`--rules DIR`, `--tag`, `--channel`, `--not-first` and `--assigned` (docs/contract.md,
    command line)."""
    write_rules(
        tmp_path / "draft",
        '[[rule]]\nid = "vip"\nphrases = ["price"]\nif_tags = "vip"\nanswer = "V"\npriority = 1\n'
        '[[rule]]\nid = "web"\nphrases = ["price"]\nanswer = "W"\nchannels = ["web_user"]\n'
        '[[rule]]\nid = "hi"\nphrases = ["hello"]\nanswer = "H"\nfirst_message = true\n',
    )
    runner = CliRunner(env={"DATABASE_URL": sqlite_url, "RULES_DIR": str(EXAMPLE_RULES)})

    def first_line(*options: str) -> str:
        result = runner.invoke(rules_group, ["try", *options, "--rules", str(tmp_path / "draft")])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[0]

    assert first_line("price?").startswith("rule: web ")
    assert first_line("price?", "--tag", "vip").startswith("rule: vip ")
    assert first_line("price?", "--channel", "app_android") == "no match"
    assert first_line("hello").startswith("rule: hi ")
    assert first_line("hello", "--not-first") == "no match"
    quiet = CliRunner(
        env={
            "DATABASE_URL": sqlite_url,
            "RULES_DIR": str(EXAMPLE_RULES),
            "QUIET_WHEN_ASSIGNED": "1",
        }
    ).invoke(rules_group, ["try", "price?", "--assigned", "--rules", str(tmp_path / "draft")])
    assert quiet.stdout.startswith("ignored: the conversation is assigned to a person")
