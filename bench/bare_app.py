"""The ceiling of the stack: a Flask endpoint that reads the form and answers, nothing else."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/dashly")
def webhook() -> dict:
    request.form.get("conversation")
    return {"status": "ignored"}


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}
