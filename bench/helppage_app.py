"""The help page's design, in Python 3: the handler matches every question with a pattern
compiled per message and posts the reply inline, for every match, before answering. No token
check, no state, no filtering of operator messages."""

import json
import os
import re

import requests
from flask import Flask, request

API_URL = os.environ["DASHLY_API_URL"]
API_TOKEN = os.environ["DASHLY_API_TOKEN"]
QUESTIONS = [
    {"question": "hello", "answer": "Hi! How can I help you today?"},
    {"question": "how are you", "answer": "Doing great, thanks for asking!"},
    {"question": "how much", "answer": "Our plans start at $10 a month."},
    {"question": "price", "answer": "Prices: https://example.com/pricing"},
    {"question": "delivery", "answer": "We ship within 1 business day."},
    {"question": "когда", "answer": "Отправляем за 1 рабочий день."},
    {"question": "доставят", "answer": "Доставка 2-5 дней."},
    {"question": "phone number", "answer": "+1 555 0100"},
]

app = Flask(__name__)


@app.post("/webhooks/dashly")
def webhook() -> str:
    data = json.loads(request.form["conversation"])
    body = (data.get("body") or "").upper()
    for item in QUESTIONS:
        if re.compile(r"(#\s|)(" + item["question"].upper() + ")").search(body):
            requests.post(
                "%s/conversations/%d/reply?auth_token=%s"  # noqa: UP031 (as the help page wrote it)
                % (API_URL, data["conversation"], API_TOKEN),
                data={"body": item["answer"]},
            )
    return "ok"


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}
