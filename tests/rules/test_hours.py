"""Rule hours: day ranges, several ranges, midnight, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.rules import RuleSet, load_rules
from app.rules.hours import HoursError, parse_hours, parse_range
from tests.helpers import write_rules

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    """A local wall-clock moment; 2026-11-23 is a Monday."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)


def rules_with(tmp_path: Path, keys: str, zone: str = "Europe/Berlin") -> RuleSet:
    write_rules(tmp_path, f'[[rule]]\nid = "r"\nphrases = ["hi"]\nanswer = "x"\n{keys}\n')
    return load_rules(tmp_path, ZoneInfo(zone))


def answers(rules: RuleSet, moment: datetime) -> bool:
    return rules.match("hi", moment) is not None


def test_weekday_range_includes_its_start_and_excludes_its_end(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, 'hours = "mon-fri 09:00-18:00"')
    assert not answers(rules, at("2026-11-23 08:59"))
    assert answers(rules, at("2026-11-23 09:00"))
    assert answers(rules, at("2026-11-27 17:59"))
    assert not answers(rules, at("2026-11-27 18:00"))
    assert not answers(rules, at("2026-11-28 12:00"))  # Saturday


def test_several_ranges_and_a_lunch_break(tmp_path: Path) -> None:
    rules = rules_with(
        tmp_path, 'hours = ["mon-fri 09:00-13:00", "mon-fri 14:00-18:00", "sat 10:00-14:00"]'
    )
    assert answers(rules, at("2026-11-24 12:59"))
    assert not answers(rules, at("2026-11-24 13:30"))
    assert answers(rules, at("2026-11-28 10:00"))
    assert not answers(rules, at("2026-11-29 11:00"))  # Sunday


def test_a_range_across_midnight_belongs_to_the_day_it_starts(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, 'hours = "fri 22:00-02:00"')
    assert answers(rules, at("2026-11-27 23:30"))  # Friday night
    assert answers(rules, at("2026-11-28 01:59"))  # Saturday small hours
    assert not answers(rules, at("2026-11-28 02:00"))
    assert not answers(rules, at("2026-11-27 01:00"))  # Friday small hours: Thursday's night


def test_daily_wrapping_day_ranges_and_24_00(tmp_path: Path) -> None:
    assert answers(rules_with(tmp_path, 'hours = "daily 08:00-20:00"'), at("2026-11-29 08:00"))
    weekend = rules_with(tmp_path, 'hours = "sat-mon 00:00-24:00"')
    assert answers(weekend, at("2026-11-23 23:59"))  # Monday
    assert answers(weekend, at("2026-11-29 00:00"))  # Sunday
    assert not answers(weekend, at("2026-11-24 00:00"))  # Tuesday


def test_outside_hours_is_the_opposite(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, 'outside_hours = "mon-fri 09:00-18:00"')
    assert answers(rules, at("2026-11-23 08:00"))
    assert not answers(rules, at("2026-11-23 10:00"))
    assert answers(rules, at("2026-11-28 10:00"))


def test_the_rules_own_time_zone_wins_over_the_default(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, 'hours = "mon-fri 09:00-18:00"\ntimezone = "America/New_York"')
    assert not answers(rules, datetime(2026, 11, 23, 13, 0, tzinfo=UTC))  # 08:00 NY
    assert answers(rules, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # 09:00 NY


def test_hours_follow_daylight_saving_time(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, 'hours = "daily 09:00-10:00"')
    # 09:30 in Berlin is 08:30 UTC in summer and 07:30 UTC in winter (DST ended 2026-10-25).
    assert answers(rules, datetime(2026, 10, 24, 7, 30, tzinfo=UTC))
    assert not answers(rules, datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert answers(rules, datetime(2026, 10, 26, 8, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri 9-18", "is not an hours range"),
        ("someday 09:00-10:00", "is not an hours range"),
        ("mon-fry 09:00-10:00", "'fry' is not a day"),
        ("mon 25:00-26:00", "'25:00' is not a time of day"),
        ("mon 09:00-09:00", "starts and ends at the same time"),
        ("mon 24:00-09:00", "'24:00' is not a time of day"),
    ],
)
def test_bad_ranges_say_how_they_should_look(text: str, message: str) -> None:
    with pytest.raises(HoursError, match=message):
        parse_range(text)


def test_hours_errors_name_file_line_and_rule(tmp_path: Path) -> None:
    from app.rules import RulesError

    write_rules(
        tmp_path,
        '[[rule]]\nid = "r"\nphrases = ["hi"]\nanswer = "x"\nhours = "mon 9-5"\n'
        'outside_hours = "tue 10:00-11:00"\ntimezone = "Mars/Base"\n',
    )
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    problems = [p.removeprefix(f"{tmp_path}/") for p in caught.value.problems]
    assert problems[0].startswith("rules.toml:5: rule 'r': 'hours': 'mon 9-5' is not")
    assert "rules.toml:7: rule 'r': timezone 'Mars/Base' is not a known IANA name" in problems[1]


def test_hours_and_outside_hours_exclude_each_other(tmp_path: Path) -> None:
    from app.rules import RulesError

    write_rules(
        tmp_path,
        '[[rule]]\nid = "r"\nphrases = ["hi"]\nanswer = "x"\nhours = "mon 09:00-10:00"\n'
        'outside_hours = "tue 10:00-11:00"\n',
    )
    with pytest.raises(RulesError, match=r"rules\.toml:6: rule 'r': 'hours' and 'outside_hours'"):
        load_rules(tmp_path)


def test_a_list_of_ranges_parses() -> None:
    assert len(parse_hours(["mon 09:00-10:00", "tue 10:00-11:00"])) == 2


def test_a_time_zone_written_as_a_city_gets_the_iana_name_suggested() -> None:
    from app.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings({"BOT_TIMEZONE": "moscow"})
    assert "BOT_TIMEZONE 'moscow' is not a known IANA time zone; did you mean 'Europe/Moscow'?" in (
        str(caught.value)
    )
