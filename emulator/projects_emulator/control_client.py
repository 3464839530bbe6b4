"""The client side of the control endpoint, for the ``projects-emulator`` commands (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

#: The variable ``projects-emulator serve`` prints; the commands read it when no ``--control-url``.
URL_VARIABLE = "PROJECTS_EMULATOR_URL"
#: Control calls answer at once; a stalled control call means something is badly wrong.
_TIMEOUT = 10.0


class ControlError(Exception):
    """A control call failed; the message is one line meant for a person."""


class ControlClient:
    """Calls one running emulator's control endpoint."""

    def __init__(self, url: str) -> None:
        # urllib would also open file: and ftp: URLs; the control endpoint is plain HTTP only.
        if urllib.parse.urlsplit(url).scheme != "http":
            raise ControlError(f"the control URL must start with http://, not {url!r}")
        self.url = url.rstrip("/")

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, str | None] | None = None
    ) -> Any:
        """Send one control call and return its JSON answer; raise ``ControlError`` on any failure."""
        params = {name: value for name, value in (query or {}).items() if value is not None}
        url = self.url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http only
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - http only
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ControlError(_reason(exc)) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ControlError(
                f"no emulator answers at {self.url} ({reason}); is `projects-emulator serve` running, "
                f"and is {URL_VARIABLE} (or --control-url) the control URL it printed?"
            ) from exc


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError):
        return f"the control endpoint answered HTTP {exc.code}"
