"""The web side: the webhook Dashly posts to, `/healthz`, and the owner's /admin page."""
