"""GET /health, GET /v1/status, GET /v1/models: what the service is doing.

/health answers 200 only once the model is loaded (503 with the state
before); /v1/status carries the figures the tray's Status window and the
tests read (pids, state, restarts, memory, GPU, queue, live streams); its
processes list names each process of the tree by its role: service, worker
and, on POSIX, the "resource tracker" the service started.
"""
from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from service import __version__, languages
from service.config import ServiceConfig
from service.fronts.deps import get_config, get_live_streams, get_supervisor
from service.safety import gpu
from service.safety.processes import TRACKER_NAME
from service.supervision.supervisor import State, Supervisor

router = APIRouter()


def worker_view(s: Supervisor) -> dict:
    return {"is_running": s.worker_pid is not None and s.state == State.READY,
            "worker_state": s.state, "worker_pid": s.worker_pid,
            "queue_depth": s.queue_depth, "total_tasks": s.total,
            "completed_tasks": s.completed, "failed_tasks": s.failed,
            "worker_restarts": s.restarts, "avg_wait_ms": s.avg_wait_ms,
            "pending_results": int(s.busy)}


# Cantonese came with large-v3: the multilingual models before it know the other 99.
NEWER_LANGUAGES = ("yue",)


def model_languages(info: dict) -> list[str] | None:
    """The language codes the loaded model knows (English-only: ["en"]), in
    Whisper's order; the worker's own list when it reports one."""
    if info.get("languages"):
        return list(info["languages"])
    multilingual = info.get("multilingual")
    if multilingual is None:
        return None   # no model loaded yet
    if not multilingual:
        return ["en"]
    return [code for code in languages.LANGUAGES if code not in NEWER_LANGUAGES]


@router.get("/health")
async def health(supervisor: Supervisor = Depends(get_supervisor)):
    ready = supervisor.state == State.READY
    body = {"status": "ok" if ready else supervisor.state,
            "message": supervisor.error,
            "asr_model_loaded": ready, "vad_model_loaded": ready,
            "asr_worker": worker_view(supervisor), "model": supervisor.info.get("model"),
            "device": supervisor.info.get("device"), "version": __version__}
    return JSONResponse(status_code=200 if ready else 503, content=body)


@router.get("/v1/status")
def status(request: Request, supervisor: Supervisor = Depends(get_supervisor),
           cfg: ServiceConfig = Depends(get_config),
           live_streams: set = Depends(get_live_streams)):
    # A plain def: the psutil and NVML calls run in the thread pool, not on the loop.
    sampler = request.app.state.sampler
    probe = gpu.probe()
    table = probe.memory_by_pid()
    procs = []
    rows = [("service", os.getpid()), ("worker", supervisor.worker_pid)]
    tracker = getattr(supervisor, "tracker", None)
    if tracker is not None:  # multiprocessing's resource tracker (POSIX): part of the tree
        rows.append((TRACKER_NAME, tracker.pid))
    for role, pid in rows:
        fig = sampler.sample(pid)
        gpu_bytes = table.get(pid) if pid in table else None
        procs.append({"role": role, "pid": pid,
                      "alive": bool(fig and fig.alive),
                      "rss": fig.rss if fig else None,
                      "cpu_percent": fig.cpu_percent if fig else None,
                      "uptime": round(fig.uptime, 1) if fig and fig.uptime else None,
                      "gpu_memory": gpu_bytes,
                      "gpu_present": pid in table})
    info = supervisor.info
    url = request.app.state.url
    return {"service_pid": os.getpid(), "worker_pid": supervisor.worker_pid,
            "state": supervisor.state, "error": supervisor.error,
            "restarts": supervisor.restarts, "last_exit_code": supervisor.last_exit,
            "uptime": round(time.time() - request.app.state.started, 1),
            "processes": procs, "gpu": probe.reason if probe.available else "no GPU",
            "model": info.get("model") or cfg.model.model, "model_path": info.get("model_path"),
            "device": info.get("device"), "compute_type": info.get("compute_type"),
            "multilingual": info.get("multilingual"),
            # Codes the captions window can offer besides auto (null before the model loaded).
            "languages": model_languages(info),
            # Where the service listens: `port` can be after `requested_port` (--port-search).
            "url": url, "port": urlsplit(url).port if url else None, "requested_port": cfg.port,
            "queue_depth": supervisor.queue_depth, "max_queue": supervisor.max_queue,
            # Tests poll this instead of sleeping until a closed stream is let go.
            "live_streams": len(live_streams),
            "version": __version__}


@router.get("/v1/models")
async def models(supervisor: Supervisor = Depends(get_supervisor),
                 cfg: ServiceConfig = Depends(get_config)):
    name = supervisor.info.get("model") or cfg.model.model
    return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "local"}]}
