"""Telling a human: an ERROR log line, and a JSON POST to a webhook when one is set.

Nobody watches the servers around the clock, so a problem a service finds in
itself is pushed out (``KESAH_ALERT_WEBHOOK``: a chat bot, Alertmanager's
webhook receiver, an SMS gateway). An alert fires when a problem appears or
changes, and resolves when it is gone; a webhook that is down never stops
the service (the log line is always written).
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from typing import Any

from .contracts import utc_now

log = logging.getLogger("kesah.alerts")

TIMEOUT = 5.0


class Alerter:
    def __init__(self, service: str, webhook: str | None = None) -> None:
        self.service = service
        self.webhook = webhook
        self.sent = 0
        self.failed = 0

    def fire(self, check: str, problem: str, details: dict[str, Any] | None = None) -> None:
        log.error("ALERT %s %s: %s", self.service, check, problem)
        self._post({"status": "firing", "service": self.service, "check": check, "summary": problem,
                    "details": details or {}, "at": utc_now()})

    def resolve(self, check: str, note: str = "") -> None:
        log.info("resolved %s %s%s", self.service, check, f": {note}" if note else "")
        self._post({"status": "resolved", "service": self.service, "check": check, "summary": note,
                    "details": {}, "at": utc_now()})

    def _post(self, body: dict[str, Any]) -> None:
        if not self.webhook:
            return
        request = urllib.request.Request(
            self.webhook, data=json.dumps(body).encode("utf-8"), method="POST",
            headers={"content-type": "application/json", "user-agent": "kesah-etam-alerts"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
            self.sent += 1
        except (urllib.error.URLError, socket.timeout, OSError, ValueError) as exc:
            self.failed += 1
            log.warning("alert webhook %s failed: %s", self.webhook, exc)
