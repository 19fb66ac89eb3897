"""`kesah import` as an operator runs it: a real subprocess on a real store, each post once."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from kesah import config, stores

# Texts whose kind and kelurahan the rules read (tests/unit/test_classify.py), and sources that say them.
INFERRED = [
    "Jln di depan pasar {k} berlubang besar, sdh 2 bln tdk diperbaiki",
    "Lampu jalan di Gg. Mawar {k} mati semua, gelap bgt kalau malam",
    "Sampah menumpuk di TPS dekat masjid {k}, baunya sampai ke rumah warga",
    "Kapan jalan di {k} mulai diaspal?",
    "Alangkah baiknya taman di {k} diberi lampu tambahan",
    "Info: ada pohon tumbang di jln arah {k}, hati2 pengendara",
]
KELURAHAN = ["Loktuan", "Api-Api", "Tanjung Laut Indah", "Gunung Telihan", "Bontang Kuala", "Satimpo"]
MALFORMED = [
    "{not json",
    '["a list"]',
    json.dumps({"id": "m1"}),
    json.dumps({"text": "Jalan rusak di Loktuan"}),
    json.dumps({"id": "m2", "text": "Jalan rusak", "kelurahan": "Menteng"}),
    json.dumps({"id": "m3", "text": "Jalan rusak di Loktuan", "kind": "protes"}),
    json.dumps({"id": "m4", "text": "Jalan rusak di Loktuan", "url": "javascript:alert(1)"}),
    json.dumps({"id": "m5", "text": "Jalan rusak di Loktuan", "posted_at": "kemarin"}),
    json.dumps({"id": "m6", "text": "   "}),
    json.dumps({"id": "m7", "text": "x" * 5001}),
]


def export(path: Path) -> set[int]:
    """1,000 lines: 890 posts, 100 of them again (a retry, an overlapping export), 10 malformed."""
    rng = random.Random(8)
    unique = []
    for i in range(890):
        post = {"id": f"186{i:07d}", "author": f"@warga{i}", "url": f"https://x.com/warga{i}/status/186{i:07d}",
                "posted_at": 1795568400 + i}
        if i % 3 == 0:  # the source knows kind and kelurahan
            post.update(text=f"Laporan warga nomor {i}", kind="keluhan", kelurahan=KELURAHAN[i % 6].lower())
        else:
            post["text"] = INFERRED[i % len(INFERRED)].format(k=KELURAHAN[i % len(KELURAHAN)])
        unique.append(json.dumps(post))
    lines = unique + rng.sample(unique, 100)
    rng.shuffle(lines)
    bad_lines = set(rng.sample(range(1, 1001), 10))
    malformed = iter(MALFORMED)
    rest = iter(lines)
    out = [next(malformed) if n in bad_lines else next(rest) for n in range(1, 1001)]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return bad_lines


def test_an_import_of_1000_posts_reports_and_creates_exactly_what_it_should(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESAH_")}
    env["KESAH_DATA_DIR"] = str(tmp_path / "var")

    def kesah(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kesah", *args], env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path)

    assert kesah("keys", "init").returncode == 0
    path = tmp_path / "x-export.jsonl"
    bad_lines = export(path)

    result = kesah("import", str(path), "--channel", "x")
    print(result.stdout)
    assert result.returncode == 1  # some lines were rejected: said on stderr, exit code 1
    assert "10 line(s) of x-export.jsonl were rejected" in result.stderr
    assert "importing x-export.jsonl [" in result.stderr and "1000/1000 100%" in result.stderr  # the progress bar
    assert "imported: 890 (890 submitted as complaints, 0 waiting for an operator" in result.stdout
    assert "duplicates: 100 " in result.stdout
    assert "rejected: 10\n" in result.stdout
    reported = {int(n) for n in re.findall(r"^  line (\d+): ", result.stdout, re.M)}
    assert reported == bad_lines

    intake = stores.reader_store(config.load(env), "intake")
    events = [e for e in intake.read() if e.type == "ComplaintSubmitted"]
    assert len(events) == 890
    assert len({e.payload["source_id"] for e in events}) == 890
    assert all(e.payload["channel"] == "x" and e.payload["source_url"].startswith("https://x.com/i/status/")
               for e in events)
    assert not any("@warga" in json.dumps(e.payload) for e in events)

    # The same export again, and an overlapping CSV export: nothing new but what is new.
    again = kesah("import", str(path), "--channel", "x")
    assert "imported: 0 " in again.stdout and "duplicates: 990 " in again.stdout and "rejected: 10\n" in again.stdout
    csv_path = tmp_path / "x-export.csv"
    csv_path.write_text("id,text,author\n1860000000,dobel,@a\n1860000001,dobel,@b\n"
                        "999,Jln berlubang di Satimpo sdh 2 bln,@c\n", encoding="utf-8")
    overlap = kesah("import", str(csv_path), "--channel", "x")
    assert overlap.returncode == 0, overlap.stderr
    assert "imported: 1 " in overlap.stdout and "duplicates: 2 " in overlap.stdout and "rejected: 0" in overlap.stdout
    assert sum(e.type == "ComplaintSubmitted" for e in intake.read()) == 891
    intake.engine.dispose()

    assert kesah("import", str(tmp_path / "missing.jsonl"), "--channel", "x").returncode == 2
    unknown = kesah("import", str(path), "--channel", "web")
    assert unknown.returncode == 2 and "not a channel name" in unknown.stderr
