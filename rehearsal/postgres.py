"""Drill ``postgres-failover``: the PostgreSQL primary dies under load, its replica takes over.

A primary and a streaming replica of the machine's PostgreSQL 15 run on
ports of their own under a temp dir (never the machine's server on 5432),
as the ``postgres`` OS user when we are root (initdb refuses root). Every
store of the system (intake, routing, responses, publicview, the contact
vault) is a database on that primary. Commits are synchronous
(``synchronous_commit = on`` with the replica named in
``synchronous_standby_names``): a commit is acknowledged to intake only once
the replica has flushed it, so a 201 survives losing the primary. ``on``
rather than ``remote_apply``: nothing reads from the replica, and a promoted
replica replays all the WAL it flushed before it takes writes.

Under load the primary's postmaster is killed (SIGKILL), and after a short
pause, as an operator or CloudNativePG would, the replica is promoted. The
services know both servers through one libpq multi-host URL with
``target_session_attrs=read-write`` (in Kubernetes the ``-rw`` Service plays
that part): while no server takes writes, intake answers 503; then it
writes to the new primary. The full size fails over again: the old
primary's place is rebuilt as a standby of the new one (a fresh base backup,
as CloudNativePG re-clones a lost instance), synchronous again, then the new
primary is killed too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import systems
from .load import Load, summary, tally
from .report import CannotRun, Outcome

if TYPE_CHECKING:
    from tests.support.system import System

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Every store of the system, each a database on the primary.
DATABASES = {service: f"kesah_{service}"
             for service in ("intake", "routing", "responses", "publicview", "contactvault")}
LOAD_TITLE = "Latihan gangguan nomor "  # rehearsal.load's titles, one number per submission
ROUND_NUMBERS = 1_000_000
# How long no server takes writes before the replica is promoted: an operator
# (or CloudNativePG's failure detection) takes at least this long.
PROMOTE_AFTER_SECONDS = 5.0


def _free_port() -> int:
    from tests.support.system import free_port

    return free_port()


class Node:
    """One PostgreSQL server: a data directory and a port."""

    def __init__(self, cluster: "Cluster", name: str, port: int) -> None:
        self.cluster, self.name, self.port = cluster, name, port
        self.data = cluster.root / name
        self.killed: list[int] = []  # the processes of a killed server, ended at teardown

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def configure(self, **settings: str) -> None:
        """Settings of this server alone: postgresql.auto.conf is read last, and a base backup copies it."""
        lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
        self.cluster.as_postgres("sh", "-c", f"cat >> {self.data / 'postgresql.auto.conf'}", stdin=lines)

    def start(self) -> None:
        self.cluster.pg("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                        "-l", str(self.cluster.root / f"{self.name}.log"))

    def promote(self) -> None:
        self.cluster.pg("pg_ctl", "promote", "-w", "-t", "60", "-D", str(self.data))

    def kill(self) -> None:
        """SIGKILL to the postmaster, as a crashed machine: its backends die or linger without it."""
        pid = self.pid()
        if pid is None:
            return
        self.killed = [pid] + _children(pid)
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.pid() is not None and not self.killed:
            self.cluster.pg("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data), check=False)
        for pid in self.killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Cluster:
    """A primary and a synchronous streaming replica under a temp dir; ``close`` removes everything."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise CannotRun(f"the PostgreSQL 15 server binaries are not in {PG_BIN} (apt-get install postgresql-15)")
        self.user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise CannotRun("running as root, but there is no postgres OS user to run initdb as") from None
            self.user = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="kesah-pg-failover-"))
        if self.user:
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.nodes: list[Node] = []
        self.primary: Node | None = None
        self.standby: Node | None = None
        self.generation = 0
        self.ports: list[int] = []

    # --- running commands ---------------------------------------------------------

    def as_postgres(self, *command: str, stdin: str | None = None, check: bool = True) -> None:
        done = subprocess.run([*self.user, *command], input=stdin, capture_output=True, text=True, timeout=180,
                              cwd=self.root)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")

    def pg(self, program: str, *args: str, check: bool = True) -> None:
        self.as_postgres(str(PG_BIN / program), *args, check=check)

    # --- the cluster's life ---------------------------------------------------------

    def start(self) -> "Cluster":
        primary = self._node()
        # --no-sync here and for base backups: the drill kills postmasters, not the machine's page cache.
        self.pg("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                "--locale=C.UTF-8")
        primary.configure(
            listen_addresses="127.0.0.1", port=str(primary.port), unix_socket_directories=str(self.root),
            wal_level="replica", max_wal_senders="10", max_connections="300", shared_buffers="64MB",
            # The commit of a transaction returns once the synchronous standby has flushed its WAL:
            # what intake acknowledged is on two servers. 'on' is enough, since nothing reads
            # from the standby; remote_apply would also wait for the standby to replay it.
            synchronous_commit="on",
        )
        primary.start()
        self.primary = primary
        self.attach_standby()
        return self

    def _node(self) -> Node:
        # Two places, as a Service names two pods: a rebuilt standby takes the dead server's port.
        self.generation += 1
        taken = {n.port for n in (self.primary, self.standby) if n is not None}
        port = next((p for p in self.ports if p not in taken), None) or _free_port()
        if port not in self.ports:
            self.ports.append(port)
        node = Node(self, f"node{self.generation}", port)
        self.nodes.append(node)
        return node

    def attach_standby(self) -> None:
        """A fresh base backup of the primary, streaming, then the primary's synchronous standby."""
        assert self.primary is not None
        standby = self._node()
        self.pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        # Its application_name is its cluster_name. Promoted, it has no standby of its own, and naming
        # one would stop every commit: the drill has two servers where production has three (whose
        # promoted replica still has a synchronous one), so until a new standby is attached the
        # new primary runs on one copy, as CloudNativePG's dataDurability: preferred would.
        standby.configure(port=str(standby.port), cluster_name=standby.name, synchronous_standby_names="")
        standby.start()
        self.primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({standby.name})'")
        self.primary.sql("SELECT pg_reload_conf()")
        self.standby = standby
        deadline = time.monotonic() + 60
        while self.primary.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                               (standby.name,)) != [("sync",)]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{standby.name} did not become the synchronous standby within 60 s")
            time.sleep(0.2)

    def fail_over(self, pause: float) -> None:
        """Kill the primary's postmaster; after ``pause`` seconds promote the standby."""
        assert self.primary is not None and self.standby is not None
        self.killed_at = time.monotonic()
        self.primary.kill()
        time.sleep(pause)
        self.standby.promote()
        self.promoted_at = time.monotonic()
        self.primary, self.standby = self.standby, None

    def create_databases(self) -> None:
        assert self.primary is not None
        for name in DATABASES.values():
            self.primary.sql(f'CREATE DATABASE "{name}"')

    def url(self, database: str) -> str:
        """Both places, the writable one chosen at each connect."""
        hosts = "&".join(f"host=127.0.0.1:{port}" for port in self.ports)
        return f"postgresql://postgres@/{database}?{hosts}&target_session_attrs=read-write&connect_timeout=5"

    def close(self) -> None:
        for node in self.nodes:
            try:
                node.stop()
            except Exception:  # the other nodes and the directory go anyway
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def failover(small: bool) -> list[Outcome]:
    """The drill: one failover (small), or a failover, a new standby, and a second failover."""
    from kesah import schema
    from tests.support import services

    rounds, workers, before, after = (1, 4, 60, 60) if small else (2, 6, 300, 300)
    cluster = Cluster()
    vhost = None
    system = None
    work = Path(tempfile.mkdtemp(prefix="kesah-rehearsal-pg-"))
    outcomes: list[Outcome] = []
    try:
        started = time.monotonic()
        cluster.start()
        cluster.create_databases()
        _say(f"primary and synchronous replica ready in {time.monotonic() - started:.0f} s")
        vhost = services.create_vhost()
        urls = {service: cluster.url(name) for service, name in DATABASES.items() if service != "contactvault"}
        system = systems.make_system(work / "system", vhost, urls,
                                     extra_env={"KESAH_CONTACT_VAULT_DB_URL": cluster.url(DATABASES["contactvault"])})
        # The System migrates the services' databases; the contact vault is one more.
        schema.migrate(system.settings, ["contactvault"])
        system.start()
        _say(f"system started ({time.monotonic() - started:.0f} s)")
        for round_ in range(1, rounds + 1):
            if round_ > 1:
                cluster.attach_standby()
                standby = cluster.standby.name  # type: ignore[union-attr]
                _say(f"round {round_}: {standby} is the synchronous standby again ({time.monotonic() - started:.0f} s)")
            # Numbers apart per round: a title names one submission of one round.
            first = (round_ - 1) * ROUND_NUMBERS
            load = Load(str(system.http.base_url), workers=workers, _sequence=first).start()
            try:
                load.wait_for(before)
                killed = cluster.primary.name  # type: ignore[union-attr]
                cluster.fail_over(PROMOTE_AFTER_SECONDS)
                load.wait_for(after)
            finally:
                load.stop()
            promoted = cluster.primary.name  # type: ignore[union-attr]
            _say(f"round {round_}: {killed} killed, {promoted} took over; tallying "
                 f"({time.monotonic() - started:.0f} s)")
            fault = "postgres: primary killed, replica promoted" + (f" (round {round_})" if rounds > 1 else "")
            outcomes.append(_tally(fault, system, load, cluster, killed, first))
    except BaseException:
        if system is not None:
            _print_logs(system, cluster)
        raise
    else:
        if system is not None and not all(o.ok for o in outcomes):
            _print_logs(system, cluster)
    finally:
        if system is not None:
            system.close()
        if vhost is not None:
            services.delete_vhost(vhost)
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    return outcomes


def _say(line: str) -> None:
    print(f"   postgres-failover: {line}", flush=True)


def _tally(fault: str, system: "System", load: Load, cluster: Cluster, killed: str, first: int) -> Outcome:
    """The frame's count, plus what only a database failure can do.

    A submission whose COMMIT reached the standby but whose answer was lost
    with the primary is stored although the citizen got no 201: not lost (it
    was never promised), counted in the note. One submission stored twice
    (written again after such a COMMIT) has two tracking codes, so the
    frame's count by code cannot see it: the titles, one per submission, can.
    """
    import collections

    settling = time.monotonic()
    outcome = tally(fault, system, load)
    settled = time.monotonic() - settling
    where = _where_lost(system, load) if outcome.lost else ""
    titles = collections.Counter(
        number for e in system.events("intake", ["ComplaintSubmitted"])
        if e.payload.get("title", "").startswith(LOAD_TITLE)
        and first < (number := int(e.payload["title"][len(LOAD_TITLE):])) <= first + ROUND_NUMBERS
    )
    twice = sum(n - 1 for n in titles.values() if n > 1)
    outcome.duplicated += twice
    stored_unanswered = max(0, sum(titles.values()) - twice - len(load.accepted))
    code, listed = system.kesah("dlq", "list")
    dead = listed.strip().splitlines()[-1] if code == 0 and listed.strip() else f"kesah dlq list exit {code}"
    statuses = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(summary(load)["statuses"].items()))
    outcome.note = (f"{killed} killed, {cluster.primary.name} promoted "  # type: ignore[union-attr]
                    f"{cluster.promoted_at - cluster.killed_at:.1f} s later; answers {statuses}; "
                    f"{stored_unanswered} stored without a 201 (answer lost with the primary); "
                    f"{twice} stored twice; {dead}; counted {settled:.0f} s after the load stopped{where}")
    return outcome


def _where_lost(system: "System", load: Load) -> str:
    """Where the accepted complaints that never became visible stopped: what to look at first."""
    import sqlalchemy as sa

    from kesah import database
    from kesah.eventstore import outbox
    from services.publicview.store import complaints, journal
    from tests.support import services

    visible = set()
    for code in load.accepted:
        if system.http.get(f"/api/complaints/{code}").status_code == 200:
            visible.add(code)
    lost = set(load.accepted) - visible
    if not lost:
        return "; every complaint counted lost became visible after the settle"
    submitted = {e.payload["tracking_code"]: e for e in system.events("intake", ["ComplaintSubmitted"])
                 if e.payload.get("tracking_code") in lost}
    intake = system.store("intake")
    with database.reading(intake.engine) as conn:
        waiting = set(conn.execute(sa.select(outbox.c.position)).scalars())
    engine = database.create_engine(system.settings.database_url("publicview"))
    try:
        with database.reading(engine) as conn:
            ids = [e.event_id for e in submitted.values()]
            journaled = set(conn.execute(sa.select(journal.c.event_id).where(journal.c.event_id.in_(ids))).scalars())
            projected = set(conn.execute(sa.select(complaints.c.tracking_code)
                                         .where(complaints.c.tracking_code.in_(list(lost)))).scalars())
    finally:
        engine.dispose()
    inbox = services.queue_info(system.vhost, "publicview.inbox")
    return (f"; of the {len(lost)} lost: {len(submitted)} in intake's log "
            f"(positions {sorted(e.position for e in submitted.values())}), "
            f"{sum(e.position in waiting for e in submitted.values())} still in its outbox, "
            f"{len(journaled)} journaled by publicview, {len(projected)} projected; publicview.inbox "
            f"{inbox.get('messages_ready')} ready, {inbox.get('messages_unacknowledged')} unacked; "
            f"intake outbox {len(waiting)}")


def _print_logs(system: "System", cluster: Cluster) -> None:
    """The tails of every process's log and the servers' logs: the drill's directories go with it."""
    import sys

    logs = [(name, system.logs(name)) for name in system.supervisor.started]
    logs += [(path.name, path.read_text(errors="replace")) for path in sorted(cluster.root.glob("*.log"))]
    for name, text in logs:
        if text:
            print(f"----- {name} (tail) -----\n{text[-3000:]}", file=sys.stderr)
