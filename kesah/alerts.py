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

    def fire(self, check: str, problem: str, details: dict[str, Any] | None = None,
             round_number: int | None = None) -> None:
        """``round_number``: which of the service's verification rounds found it (to tell how soon)."""
        log.error("ALERT %s %s: %s", self.service, check, problem)
        self._post({"status": "firing", "service": self.service, "check": check, "summary": problem,
                    "message": message(self.service, check, problem, details or {}),
                    "details": details or {}, "round": round_number, "at": utc_now()})

    def resolve(self, check: str, note: str = "") -> None:
        log.info("resolved %s %s%s", self.service, check, f": {note}" if note else "")
        self._post({"status": "resolved", "service": self.service, "check": check, "summary": note,
                    "message": f"Kesah Etam: {_CHECKS.get(check, check)} {self.service} kembali normal; "
                               "masalahnya tidak ditemukan lagi.",
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


# --- the alert in Bahasa Indonesia, for the people it reaches (chat, SMS) --------------------
# ``summary`` stays the English log line (for engineers and machines); ``message`` says the
# same to the city's operators. Commands stay as they are typed.

_CHECKS = {"integrity": "integritas log", "projection": "proyeksi halaman publik", "lag": "keterlambatan",
           "disk": "ruang disk", "database": "berkas basis data"}

_KINDS = {
    "changed": "isinya diubah",
    "missing": "peristiwa hilang (dihapus)",
    "inserted": "ada peristiwa sisipan yang tidak ditulis pemiliknya",
    "reordered": "urutan peristiwa ditukar",
    "bad signature": "tanda tangannya tidak sah",
    "schema": "isinya tidak sesuai kontrak",
}


def _log_problem(report: dict[str, Any]) -> str | None:
    problem = report.get("problem") or {}
    if not problem:
        return None
    about = f" ({problem['event_type']} {problem['event_id']})" if problem.get("event_id") else ""
    return (f"{report.get('name', 'log')}: posisi {problem.get('position')}: "
            f"{_KINDS.get(problem.get('kind', ''), problem.get('kind'))}{about}")


def message(service: str, check: str, summary: str, details: dict[str, Any]) -> str:
    """What a firing alert says in Bahasa Indonesia (pure: made from the finding's details)."""
    head = f"Kesah Etam PERINGATAN ({service}):"
    if details.get("could_not_run"):
        return (f"{head} pemeriksaan {_CHECKS.get(check, check)} tidak dapat berjalan ({details['could_not_run']}); "
                "layanan dianggap tidak siap sampai pemeriksaan itu berjalan lagi.")
    if check == "database" and details.get("damage"):
        if details.get("moved_to"):
            done = (f"berkas itu sudah dipindahkan ke {details['moved_to']} (disimpan untuk penyelidikan) dan "
                    "basis data baru sedang diisi ulang otomatis dari log pemilik")
        elif "moved_to" in details:
            done = "basis data baru sedang diisi ulang otomatis dari log pemilik"
        else:
            done = "jalankan: kesah replay publicview --from sources"
        return f"{head} berkas basis data {details.get('path')} rusak ({details['damage']}); {done}."
    if check == "integrity":
        found = [p for p in map(_log_problem, details.get("reports") or [details]) if p]
        if found:
            if service == "publicview":
                todo = ("publicview mengisi ulang jurnalnya sendiri dari log pemilik bila KESAH_SELF_HEAL=on; "
                        "manual: kesah replay publicview --from sources")
            else:
                todo = (f"log {service} tidak pernah diubah otomatis: operator memindahkan basis data yang rusak, "
                        f"lalu menjalankan kesah restore {service} --from publicview")
            return f"{head} verifikasi log GAGAL. {'; '.join(found)}. {todo}."
    if check == "projection" and details.get("differences"):
        first = details["differences"][0].get("tracking_code")
        done = (f"{details['healed']} aduan sudah diproyeksikan ulang otomatis dari jurnal"
                if details.get("healed") else "jalankan: kesah rebuild publicview")
        return (f"{head} halaman publik berbeda dari jurnalnya: {len(details['differences'])} aduan "
                f"(pertama {first}); {done}.")
    if check == "lag" and "lag" in details:
        return (f"{head} halaman publik tertinggal {details['lag']} peristiwa dari log pemilik terlalu lama: "
                "periksa relay dan konsumen publicview.")
    if check == "disk" and details.get("stores"):
        low, refused = details.get("min_free_bytes", 0), details.get("refused_writes") or {}
        full = [f"{d['store']} ({d['path']}, sisa {(d['free_bytes'] or 0) / 1048576:.1f} MB)"
                for d in details["stores"]
                if (d.get("free_bytes") is not None and d["free_bytes"] < low) or refused.get(d["store"])]
        if full:
            return (f"{head} disk penyimpanan penuh di bawah basis data {', '.join(full)}. Penulisan gagal dan "
                    f"{service} tidak siap sampai ruang disk dikosongkan; setelah itu semuanya berjalan lagi sendiri.")
    if check.startswith("outbox ") and details.get("store"):
        why = "disk penuh" if details.get("disk_full") else "basis data tidak dapat ditulis"
        return (f"{head} relay tidak dapat mencatat peristiwa {details['store']} yang sudah diterima broker "
                f"({why}: {details.get('path')}). Peristiwa itu tidak dikirim ulang; relay mencoba lagi sendiri "
                f"setelah ruang disk dikosongkan.")
    return f"{head} pemeriksaan {_CHECKS.get(check, check)} menemukan masalah. Rincian (bahasa Inggris): {summary}"
