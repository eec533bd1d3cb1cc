"""What gunicorn serves (Procfile, `make run`): the app, or, when the settings or the rules
alone make it unusable, one clear line per problem and exit status 1 instead of a traceback.
A database that cannot be reached is no such problem: the service starts and keeps trying."""

from __future__ import annotations

import sys

from app import create_app
from app.rules import RulesError
from app.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:
    for problem in str(error).splitlines():
        print(f"configuration error: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None
except RulesError:
    # create_app has logged each problem as a file:line line.
    print("the rules are broken (see the lines above); not starting", file=sys.stderr, flush=True)
    raise SystemExit(1) from None
