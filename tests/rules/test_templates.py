"""Answers with placeholders, end to end: the lead's name from the API, named groups, no
injection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer

from app.rules.templates import AnswerTemplateError, compile_answer
from tests.helpers import API_PATH, API_TOKEN, api_calls, lead_part, wait_for, webhook_form

RULES = """
[[rule]]
id = "greet"
phrases = ["hello"]
answer = "Hi {{ lead.name | default('friend') }}!"

[[rule]]
id = "order"
patterns = ['order (?P<number>\\S+)']
answer = "Checking order {{ match.number }}."
"""


@pytest.fixture
def app_with_rules(make_app: Callable[..., Flask], httpserver: HTTPServer, tmp_path: Path) -> Flask:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(RULES)
    httpserver.expect_request(API_PATH).respond_with_json({"meta": {"status": 200}})
    return make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=httpserver.url_for("/"),
        RULES_DIR=str(tmp_path / "rules"),
    )


def reply_body(app: Flask, server: HTTPServer, text: str, part_id: int) -> str:
    part = lead_part(text, part_id=part_id, conversation=600 + part_id)
    assert app.test_client().post("/webhooks/dashly", data=webhook_form(part)).status_code == 200
    [request] = wait_for(lambda: api_calls(server))
    return parse_qs(request.get_data(as_text=True))["body"][0]


def test_the_leads_name_is_fetched_and_stripped_of_markup(
    app_with_rules: Flask, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/users/85648207").respond_with_json(
        {"meta": {"status": 200}, "data": {"props": {"$name": "<b>O'Brien</b> <img src=x>"}}}
    )
    assert reply_body(app_with_rules, httpserver, "hello", 1) == "Hi O'Brien!"


def test_an_unknown_name_or_a_failed_lookup_uses_the_default(
    app_with_rules: Flask, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/users/85648207").respond_with_data("down", status=503)
    assert reply_body(app_with_rules, httpserver, "hello", 2) == "Hi friend!"


def test_the_name_is_not_fetched_when_no_answer_uses_it(
    app_with_rules: Flask, httpserver: HTTPServer
) -> None:
    assert reply_body(app_with_rules, httpserver, "order 42", 3) == "Checking order 42."
    assert not [r for r, _ in httpserver.log if r.path.startswith("/users/")]


def test_a_leads_text_stays_text(app_with_rules: Flask, httpserver: HTTPServer) -> None:
    assert reply_body(app_with_rules, httpserver, "order {{7*7}}", 4) == "Checking order {{7*7}}."


def test_a_leads_markup_is_removed_from_inserted_values(
    app_with_rules: Flask, httpserver: HTTPServer
) -> None:
    body = reply_body(app_with_rules, httpserver, "order <script>alert(1)</script>", 5)
    assert "<" not in body and ">" not in body


def test_unsafe_or_broken_templates_are_refused_at_load() -> None:
    with pytest.raises(AnswerTemplateError, match="unsafe"):
        compile_answer("{{ match.__class__.__mro__ }}")
    with pytest.raises(AnswerTemplateError, match="No filter named 'no_such_filter'"):
        compile_answer("{{ lead.name | no_such_filter }}")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("{{ 1/0 }}", "division by zero"),
        ("{% for i in range(1, 2, 0) %}x{% endfor %}", "range() arg 3 must not be zero"),
    ],
)
def test_a_template_that_fails_when_rendered_is_a_file_line_problem_not_a_traceback(
    tmp_path: Path, answer: str, said: str
) -> None:
    from app.rules import RulesError, load_rules
    from tests.helpers import write_rules

    write_rules(tmp_path, f'[[rule]]\nid = "x"\nphrases = ["hello"]\nanswer = "{answer}"\n')
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path)
    assert refused.value.problems == [
        f"{tmp_path / 'rules.toml'}:4: rule 'x': answer template: {said}"
    ]
