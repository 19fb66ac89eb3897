"""Transparansi: the owners' signed checkpoints, as publicview received them, for anyone to keep.

A checkpoint is an owner's ``LogCheckpointed`` event in publicview's journal
(``kesah.checkpoints``). The page ``/transparansi`` lists the latest per
owner with the owners' public keys; ``/transparansi.json`` is the same as
data; ``/transparansi/<source>-<position>.json`` is one checkpoint, the file
an auditor saves and later checks with ``kesah audit``.
"""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kesah import config, database
from kesah.checkpoints import CHECKPOINT, publication
from kesah.contracts import RecordedEvent
from kesah.eventstore import row_to_event

from .store import PublicView, journal

SHOWN = 10


def latest(view: PublicView, per_source: int = SHOWN) -> dict[str, list[RecordedEvent]]:
    found: dict[str, list[RecordedEvent]] = {}
    with database.reading(view.engine) as conn:
        for source in config.OWNERS:
            rows = conn.execute(
                sa.select(journal).where(journal.c.source == source, journal.c.type == CHECKPOINT)
                .order_by(journal.c.position.desc()).limit(per_source)
            ).all()
            found[source] = [row_to_event(r) for r in rows]
    return found


def vouching_for(view: PublicView, source: str, position: int) -> RecordedEvent | None:
    """The checkpoint of ``source`` that vouches for ``position``."""
    with database.reading(view.engine) as conn:
        rows = conn.execute(
            sa.select(journal).where(journal.c.source == source, journal.c.type == CHECKPOINT)
            .order_by(journal.c.position.desc())
        )
        for row in rows:
            event = row_to_event(row)
            if event.payload.get("position") == position:
                return event
    return None


def routes(view: PublicView, page: Callable[..., Response]) -> list[Route]:
    def keys() -> dict[str, Any]:
        return view.keyring.public_keys() if view.keyring else {}

    async def transparency_page(request: Request) -> Response:
        found = await run_in_threadpool(latest, view)
        published = {s: [publication(e, view.keyring) for e in events] for s, events in found.items()} \
            if view.keyring else {}
        return page(request, "transparency.html", {"checkpoints": published, "keys": keys()})

    async def transparency_json(request: Request) -> JSONResponse:
        found = await run_in_threadpool(latest, view)
        return JSONResponse({
            "algorithm": "Ed25519",
            "keys": keys(),
            "checkpoints": [publication(e, view.keyring) for events in found.values() for e in events]
            if view.keyring else [],
        })

    async def one_checkpoint(request: Request) -> JSONResponse:
        source, position = request.path_params["source"], request.path_params["position"]
        event = await run_in_threadpool(vouching_for, view, source, position) \
            if source in config.OWNERS and view.keyring else None
        if event is None:
            raise HTTPException(404)
        return JSONResponse(publication(event, view.keyring), headers={
            "content-disposition": f'attachment; filename="kesah-etam-{source}-{position}.json"'})

    return [
        Route("/transparansi", transparency_page),
        Route("/transparansi.json", transparency_json),
        Route("/transparansi/{source}-{position:int}.json", one_checkpoint),
    ]
