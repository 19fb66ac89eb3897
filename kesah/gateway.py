"""One port for every HTTP face, routed by path exactly as the production Ingress routes.

``ROUTES`` is the single map: ``kesah up`` dispatches with it, and the
deployment test checks the Ingress against it.
"""

from __future__ import annotations

from typing import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

FACES = ("intake", "responses", "publicview")

# (path, Kubernetes pathType, face); the first match wins, as in an Ingress
# where Exact beats Prefix and longer prefixes beat shorter ones.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("/api/complaints", "Exact", "intake"),
    ("/api/intake", "Prefix", "intake"),
    ("/lapor", "Exact", "intake"),
    ("/pelapor", "Prefix", "intake"),  # the reporter's follow-up form (tracking code + secret)
    ("/api/agency", "Prefix", "responses"),
    ("/agency", "Prefix", "responses"),
    ("/", "Prefix", "publicview"),
)


def _matches(path: str, route: str, kind: str) -> bool:
    if kind == "Exact":
        return path == route
    return route == "/" or path == route or path.startswith(route.rstrip("/") + "/")


def face_for(path: str) -> str:
    for route, kind, face in ROUTES:
        if _matches(path, route, kind):
            return face
    raise LookupError(path)  # unreachable: "/" matches everything


class Gateway:
    def __init__(self, faces: Mapping[str, ASGIApp]) -> None:
        self.faces = dict(faces)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # The faces open their resources when built; nothing to run here.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        face = face_for(scope.get("path", "/"))
        await self.faces[face](scope, receive, send)


def build_face(face: str, settings):  # type: ignore[no-untyped-def]
    if face == "intake":
        from services.intake.web import create_app
    elif face == "responses":
        from services.responses.web import create_app
    elif face == "publicview":
        from services.publicview.web import create_app
    else:
        raise ValueError(f"unknown face {face!r}; one of {', '.join(FACES)}")
    return create_app(settings)


def build(settings, faces=FACES) -> ASGIApp:  # type: ignore[no-untyped-def]
    apps = {face: build_face(face, settings) for face in faces}
    if len(apps) == 1:
        return next(iter(apps.values()))
    return Gateway(apps)
