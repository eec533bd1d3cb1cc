"""The owner's page and `flask insights` at volume: 50,000 lead messages in the window, most of
them unanswered, in a real SQLite file; and grouping alone at 2,500 / 10,000 questions.

    .venv/bin/python bench/insight.py
"""

from __future__ import annotations

import base64
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.insight import build_insights, group_questions  # noqa: E402
from app.runtime import runtime_of  # noqa: E402
from app.store import LeadOutcome  # noqa: E402
from bench.mix import UNMATCHED  # noqa: E402
from bench.questions import labelled  # noqa: E402

MESSAGES = 50_000
TOPICS = [
    "can I pay by {} card", "do you ship to {}", "is there a discount for {}",
    "how do I reset my {} password", "the app crashes when I open {}", "где мой заказ {}",
    "можно ли вернуть {}", "what is the warranty on the {}", "do you have {} in stock",
    "how long does delivery to {} take",
]  # fmt: skip
FILL = ["visa", "berlin", "students", "account", "settings", "номер 5", "куртку", "phone",
        "size m", "moscow", "mastercard", "paris", "teachers", "email", "profile"]  # fmt: skip


def questions(count: int, rng: random.Random) -> list[str]:
    made = [rng.choice(TOPICS).format(rng.choice(FILL)) for _ in range(count)]
    return [text if rng.random() > 0.1 else rng.choice(UNMATCHED) for text in made]


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as temp:
        url = f"sqlite:///{Path(temp) / 'bot.sqlite3'}"
        app = create_app({"DATABASE_URL": url, "ADMIN_PASSWORD": "a" * 20,
                          "DASHLY_WEBHOOK_TOKEN": "b" * 20, "START_BACKGROUND": False})  # fmt: skip
        store = runtime_of(app).store
        now = time.time()
        texts = questions(MESSAGES, rng)
        with store.transaction() as run:
            for number, text in enumerate(texts):
                answered = number % 10 == 0
                run(
                    "INSERT INTO lead_messages (part_id, conversation, received_at, status, "
                    "rule_id, fallback, reason, text) VALUES (?, ?, ?, ?, ?, 0, '', ?)",
                    str(number), str(number), now - rng.uniform(0, 6 * 86400),
                    "replied" if answered else "no_match", "pricing" if answered else None, text,
                )  # fmt: skip
        assert isinstance(LeadOutcome, type)
        started = time.perf_counter()
        report = build_insights(store, now, 7, runtime_of(app).settings.timezone)
        cli_seconds = time.perf_counter() - started
        auth = {"Authorization": "Basic " + base64.b64encode(b"o:" + b"a" * 20).decode()}
        client = app.test_client()
        started = time.perf_counter()
        page = client.get("/admin", headers=auth)
        page_seconds = time.perf_counter() - started
        started = time.perf_counter()
        client.get("/admin", headers=auth)
        again_seconds = time.perf_counter() - started
    print(f"insight benchmark, {time.strftime('%Y-%m-%d')}, {MESSAGES:,} lead messages")
    print(f"  flask insights' figures: {cli_seconds:.2f} s ({report.unanswered:,} unanswered, "
          f"{len(report.groups)} groups from the latest {report.grouped:,})")  # fmt: skip
    print(f"  /admin: {page_seconds:.2f} s (status {page.status_code}); "
          f"again within 15 s: {again_seconds:.2f} s")  # fmt: skip
    for count in (2_500, 10_000):
        sample = questions(count, random.Random(count))
        started = time.perf_counter()
        group_questions(sample)
        print(f"  grouping {count:,} questions: {time.perf_counter() - started:.2f} s")
    for count in (2_500, 10_000):
        sample = distinct_questions(count, random.Random(count))
        started = time.perf_counter()
        group_questions(sample)
        print(f"  grouping {count:,} distinct questions: {time.perf_counter() - started:.2f} s")


def distinct_questions(count: int, rng: random.Random) -> list[str]:
    """Every one different (the generator above repeats 156 texts): bench/questions.py's
    wordings, each with a detail and a number, as leads add them."""
    wordings = [text for text, _ in labelled()]
    return [f"{rng.choice(wordings)} {rng.choice(FILL)} {n}" for n in range(count)]


if __name__ == "__main__":
    main()
