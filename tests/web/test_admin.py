"""/admin through the Flask client: auth, CSRF, escaping, and every action."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.cli import insights_command
from app.runtime import runtime_of
from tests.helpers import (
    API_TOKEN,
    USER_PATH,
    WEBHOOK_TOKEN,
    api_calls,
    lead_part,
    wait_for,
    webhook_form,
    write_rules,
)

PASSWORD = "correct horse battery staple"
DEAD_CONVERSATION = 999


def basic(password: str, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(PASSWORD)


@pytest.fixture
def admin_app(make_app: Callable[..., Flask], httpserver: HTTPServer) -> Flask:
    """A service that answered a few questions, left some unanswered, and has a dead reply."""
    accepted: list[str] = []

    def api(request: Request) -> Response:
        # The first call for that conversation is refused for good (a 400 is final).
        if f"/conversations/{DEAD_CONVERSATION}/" in request.path and not accepted:
            accepted.append("refused")
            return Response('{"meta": {"status": 400, "error": "ValidationError"}}', status=400)
        return Response('{"meta": {"status": 200}}', content_type="application/json")

    httpserver.expect_request(re.compile(r"^/conversations/")).respond_with_handler(api)
    httpserver.expect_request(USER_PATH).respond_with_json({"data": {"props": {}}})
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=httpserver.url_for("/"),
        ADMIN_PASSWORD=PASSWORD,
    )
    client = app.test_client()
    messages = [
        ("hello", 1),
        ("how much is it?", 2),
        ("Do you have a student discount?", 3),
        ("is there a discount for students", 4),
        ("<script>alert('x')</script> student discount?", 5),
        ("what is your refund policy", 6),
        ("hello", DEAD_CONVERSATION),
    ]
    for number, (text, conversation) in enumerate(messages):
        part = lead_part(text, part_id=5000 + number, conversation=conversation)
        assert client.post("/webhooks/dashly", data=webhook_form(part)).status_code == 200
    store = runtime_of(app).store
    wait_for(lambda: store.outbox_counts().get("dead") == 1)
    return app


@pytest.fixture
def admin(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_no_password_no_page(client: FlaskClient) -> None:
    response = client.get("/admin", headers=basic("anything"))
    assert response.status_code == 404
    assert response.json == {"error": "no such endpoint"}


@pytest.mark.parametrize("headers", [{}, basic("wrong"), {"Authorization": "Bearer x"}])
def test_a_wrong_or_missing_password_gets_401_and_is_not_logged(
    admin: FlaskClient, headers: dict, caplog: pytest.LogCaptureFixture
) -> None:
    response = admin.get("/admin", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "event=admin_auth_failed" in caplog.text
    assert "wrong" not in caplog.text


def test_the_page_shows_figures_groups_dead_replies_and_no_secret(admin: FlaskClient) -> None:
    response = admin.get("/admin", headers=AUTH)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="messages">7<', page)
    assert re.search(r'id="answered">3<', page)  # greeting twice (one dead), pricing
    assert re.search(r'id="unanswered">4<', page)  # the fallback answered these
    assert re.search(r'<td class="num">3</td><td class="question">[^<]*discount', page)
    assert "refund policy" in page
    assert "ValidationError" in page and "Send again" in page
    for secret in (PASSWORD, WEBHOOK_TOKEN, API_TOKEN):
        assert secret not in page
    assert "<svg" in page and page.count("<rect") == 28


def test_each_rule_shows_what_it_answered_fallbacks_too_and_silent_rules_apart(
    admin: FlaskClient,
) -> None:
    page = admin.get("/admin", headers=AUTH).get_data(as_text=True)
    results = page[
        page.index('<table id="rule-results">') : page.index(
            "</table>", page.index('<table id="rule-results">')
        )
    ]
    assert "<td>greeting" in results and "<q>hello</q>" in results
    # A fallback (the daytime one or the out-of-office one, by the hour) is listed too, as
    # what it is: its messages count as unanswered, so it shows no share "settled".
    fallback = re.search(
        r"<td>(fallback|out-of-office) <span class=\"muted\">\(a fallback: its messages count "
        r"as unanswered\)</span></td>(<td class=\"num\">\d+</td>){3}\s*<td class=\"num\">&ndash;",
        results,
    )
    assert fallback is not None and "<q>what is your refund policy</q>" in results
    never = re.search(r'<p id="never-fired">Never answered in this period: (.*?)</p>', page)
    silent = set(never.group(1).split(", "))
    assert "human" in silent and "greeting" not in silent and fallback.group(1) not in silent


def test_texts_show_as_the_lead_wrote_them(make_app: Callable[..., Flask]) -> None:
    app = make_app(ADMIN_PASSWORD=PASSWORD)
    client = app.test_client()
    for number, text in enumerate(["Ёлки-палки, где ваш склад?", "ЁЖИК в <b>тумане</b>"]):
        part = lead_part(text, part_id=7000 + number, conversation=700 + number)
        assert client.post("/webhooks/dashly", data=webhook_form(part)).status_code == 200
    page = client.get("/admin", headers=AUTH).get_data(as_text=True)
    assert "Ёлки-палки, где ваш склад?" in page and "ЁЖИК в тумане" in page
    assert "Елки" not in page and "ЕЖИК" not in page


def test_lead_text_is_escaped(admin: FlaskClient, admin_app: Flask) -> None:
    # Entities are unescaped by normalisation, so the stored text holds a real <script> tag.
    body = "&lt;script&gt;alert(1)&lt;/script&gt; zebra crossing"
    part = lead_part(body, part_id=6001, conversation=6001)
    admin_app.test_client().post("/webhooks/dashly", data=webhook_form(part))
    page = admin.get("/admin", headers=AUTH).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; zebra crossing" in page


def test_posts_without_the_csrf_token_are_refused(admin: FlaskClient) -> None:
    for path in ("/admin/try", "/admin/draft", "/admin/outbox/1/retry"):
        response = admin.post(path, data={"text": "hello"}, headers=AUTH)
        assert response.status_code == 400
        assert "CSRF" in response.json["error"]
        response = admin.post(path, data={"text": "hello", "csrf_token": "0" * 64}, headers=AUTH)
        assert response.status_code == 400


def test_try_a_message_shows_the_rule_why_and_the_answer(admin: FlaskClient) -> None:
    csrf = csrf_of(admin.get("/admin", headers=AUTH).get_data(as_text=True))
    page = admin.post(
        "/admin/try",
        data={"text": "<b>How much</b> does it cost?", "name": "", "csrf_token": csrf},
        headers=AUTH,
    ).get_data(as_text=True)
    assert "Rule <strong>pricing</strong> would answer" in page
    assert "matched: phrase &#39;cost&#39; on &#39;cost&#39;" in page
    assert "judged at " in page  # the same lines as `flask rules try`
    assert "&lt;b&gt;How much&lt;/b&gt; does it cost?" in page  # the box keeps the text, escaped


def test_draft_rules_for_chosen_groups(admin: FlaskClient) -> None:
    page = admin.get("/admin", headers=AUTH).get_data(as_text=True)
    example = re.search(r'name="group" value="([^"]*discount[^"]*)"', page).group(1)
    import html
    import tomllib

    page = admin.post(
        "/admin/draft",
        data={"group": html.unescape(example), "csrf_token": csrf_of(page)},
        headers=AUTH,
    ).get_data(as_text=True)
    drafted = html.unescape(re.search(r'<pre id="drafts">(.*?)</pre>', page, re.S).group(1))
    rule = tomllib.loads(drafted)["rule"][0]
    assert "phrases" not in rule
    assert any("discount" in example.lower() for example in rule["examples"])
    assert rule["answer"].startswith("[draft]")


def test_send_again_requeues_a_dead_reply_and_delivers_it(
    admin: FlaskClient, admin_app: Flask, httpserver: HTTPServer
) -> None:
    store = runtime_of(admin_app).store
    [dead] = store.outbox(("dead",))
    page = admin.get("/admin", headers=AUTH).get_data(as_text=True)
    response = admin.post(
        f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf_of(page)}, headers=AUTH
    )
    assert response.status_code == 303
    assert f"Reply {dead.id} is queued" in admin.get(response.location, headers=AUTH).get_data(
        as_text=True
    )
    wait_for(lambda: store.outbox_counts().get("dead") is None and store.outbox() == [])
    delivered = [r for r, resp in httpserver.log if resp.status_code == 200]
    assert any(r.path == f"/conversations/{DEAD_CONVERSATION}/reply" for r in delivered)
    again = admin.post(
        f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf_of(page)}, headers=AUTH
    )
    assert again.status_code == 404


def test_the_command_shows_the_same_figures(admin_app: Flask) -> None:
    settings = runtime_of(admin_app).settings
    result = CliRunner(env={"DATABASE_URL": settings.database_url}).invoke(insights_command, [])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "last 7 days: 7 lead messages, 3 answered by a rule, 4 unanswered, 0 left to a human"
    )
    assert "1 dead" in lines[1]
    assert any(re.match(r"\s+3\s+.*discount", line) for line in lines)
    assert any(re.match(r"\s+2\s+0\s+0\s+greeting", line) for line in lines)


def test_no_text_is_kept_when_retention_is_zero(
    make_app: Callable[..., Flask], dashly_api: HTTPServer
) -> None:
    app = make_app(
        DASHLY_API_TOKEN=API_TOKEN,
        DASHLY_API_URL=dashly_api.url_for("/"),
        INSIGHT_RETENTION_DAYS="0",
    )
    part = lead_part("what is your refund policy", part_id=7001, conversation=7001)
    app.test_client().post("/webhooks/dashly", data=webhook_form(part))
    store = runtime_of(app).store
    assert store.unanswered_texts(0) == []
    assert sum(count for *_, count in store.outcome_counts(0)) == 1
    assert store.stored_messages(0) == []
    wait_for(lambda: api_calls(dashly_api))


def test_sqlite_on_a_dyno_is_said_on_the_page(make_app: Callable[..., Flask]) -> None:
    page = make_app(ADMIN_PASSWORD=PASSWORD, DYNO="web.1").test_client().get("/admin", headers=AUTH)
    assert "SQLite on a dyno" in page.get_data(as_text=True)
    health = make_app(DYNO="web.1").test_client().get("/healthz").json
    assert health["durable"] is False


def test_a_pasted_draft_is_tried_on_stored_messages(admin: FlaskClient) -> None:
    page = admin.get("/admin", headers=AUTH).get_data(as_text=True)
    # The draft comes back in its box: a comment closing the box must stay text.
    draft = (
        "# </textarea><script>alert(1)</script>\n"
        '[[rule]]\nid = "students"\nphrases = ["student", "students"]\nanswer = "10 % off."\n'
    )
    result = admin.post(
        "/admin/replay", data={"draft": draft, "csrf_token": csrf_of(page)}, headers=AUTH
    ).get_data(as_text=True)
    assert "would now be answered" in result
    assert re.search(r"<td>students</td><td class=\"num\">3</td>", result)
    assert "<script>alert(1)" not in result
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)" in result
    broken = admin.post(
        "/admin/replay",
        data={"draft": "[[rule]]\nid = 1\n", "csrf_token": csrf_of(page)},
        headers=AUTH,
    ).get_data(as_text=True)
    assert "draft.toml:2:" in broken  # the draft's own file:line, no server path
    assert "/tmp" not in broken


def test_the_page_shows_what_rules_check_warns_of_the_rules_in_force(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    write_rules(
        tmp_path / "rules",
        '[[rule]]\nid = "price"\nphrases = ["цена, стоимость"]\nanswer = "From $10."\n',
    )
    app = make_app(ADMIN_PASSWORD=PASSWORD, RULES_DIR=str(tmp_path / "rules"))
    page = app.test_client().get("/admin", headers=AUTH).get_data(as_text=True)
    warnings = html.unescape(page.split('id="rule-warnings"', 1)[1].split("</div>", 1)[0])
    assert (
        "rules.toml:1: warning: rule 'price': phrase 'цена, стоимость' has a comma inside its "
        'quotes; did you mean 2 phrases: ["цена", "стоимость"]?'
    ) in warnings
