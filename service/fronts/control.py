"""POST /v1/worker/restart and POST /v1/shutdown: the routes that change the
service's state, so both need the service token (the tray passes one)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from service.fronts.auth import require_token
from service.fronts.deps import get_supervisor
from service.supervision.supervisor import Supervisor

router = APIRouter(dependencies=[Depends(require_token)])

RESTART_READY_WAIT_S = 120.0   # a restart answers once the new worker loaded its model


@router.post("/v1/worker/restart")
async def restart_worker(supervisor: Supervisor = Depends(get_supervisor)):
    await supervisor.recycle("restart requested over HTTP")
    ok = await supervisor.wait_ready(timeout=RESTART_READY_WAIT_S)
    return {"status": "ok" if ok else supervisor.state, "worker_pid": supervisor.worker_pid,
            "restarts": supervisor.restarts, "message": supervisor.error}


@router.post("/v1/shutdown")
async def shutdown(request: Request):
    # server.py's request_stop: records the reason and wakes the stop thread;
    # the answer still goes out, uvicorn finishes open requests first.
    request.app.state.request_shutdown("shutdown requested over HTTP")
    return {"status": "stopping"}
