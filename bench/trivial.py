"""The raw HTTP baseline: the least a Starlette endpoint can do, served as the faces are.

``POST /submit`` parses a JSON body and answers 201 with a small JSON body
(what intake's endpoint would cost without validation, storage or signing);
``GET /read/{code}`` answers a small JSON body. It runs through the same
``kesah.http.serve`` as every face, so the ratio of a face to it is the cost
of the face's own work.
"""

from __future__ import annotations

import json
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kesah import http


async def submit(request: Request) -> JSONResponse:
    data = json.loads(await request.body())
    return JSONResponse({"received": len(data), "tracking_code": "ABCD-EFGH"}, status_code=201)


async def read(request: Request) -> JSONResponse:
    return JSONResponse({"tracking_code": request.path_params["code"], "status": "dijawab"})


app = Starlette(routes=[Route("/submit", submit, methods=["POST"]), Route("/read/{code}", read)])


if __name__ == "__main__":
    http.serve(app, "127.0.0.1", int(sys.argv[1]))
