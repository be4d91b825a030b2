"""POST /v1/audio/transcriptions: OpenAI's transcription API (the official
`openai` client works against it), and `render`, which shapes a worker result
in each response_format."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import PlainTextResponse

from service import formats, languages, protocol
from service.config import ServiceConfig
from service.errors import BadInput, ServiceError
from service.fronts.deps import get_config, get_supervisor
from service.fronts.responses import too_large
from service.supervision.supervisor import Supervisor

router = APIRouter()

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


@router.post("/v1/audio/transcriptions")
async def transcriptions(
    file: UploadFile = File(..., description="The audio file to transcribe."),
    model: str = Form("whisper-1", description="Accepted for OpenAI compatibility; the "
                      "service always uses the model it loaded."),
    language: str | None = Form(None),
    prompt: str | None = Form(None),
    temperature: float | None = Form(None),
    response_format: str = Form("json"),
    timestamp_granularities: list[str] | None = Form(None, alias="timestamp_granularities[]"),
    supervisor: Supervisor = Depends(get_supervisor),
    cfg: ServiceConfig = Depends(get_config),
):
    if response_format not in RESPONSE_FORMATS:
        raise BadInput(f"The response_format '{response_format}' is not supported. Use one of "
                       f"{', '.join(RESPONSE_FORMATS)}.")
    try:
        lang = languages.normalize(language)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise BadInput(f"The temperature must be between 0 and 1, not {temperature}.")
    # One byte over the limit is enough to know; a body without Content-Length
    # is not read further than that.
    data = await file.read(cfg.max_upload_bytes + 1)
    if len(data) > cfg.max_upload_bytes:
        # The form parser counted the whole part (file.size); no guess from what was read.
        raise ServiceError(too_large(file.size, cfg.max_upload_bytes), status=413)
    options = {"language": lang, "initial_prompt": prompt or None,
               "word_timestamps": "word" in (timestamp_granularities or [])}
    if temperature is not None:
        options["temperature"] = temperature
    result = await supervisor.call(protocol.transcribe_file(data, options))
    return render(result, response_format)


def render(result: dict, response_format: str):
    if response_format == "json":
        return {"text": result["text"]}
    if response_format == "text":
        return PlainTextResponse(result["text"] + "\n")
    if response_format == "srt":
        return PlainTextResponse(formats.to_srt(result["segments"]))
    if response_format == "vtt":
        return PlainTextResponse(formats.to_vtt(result["segments"]), media_type="text/vtt")
    words = [w for s in result["segments"] for w in s.get("words", [])]
    body = {"task": "transcribe",
            "language": languages.LANGUAGES.get(result["language"], result["language"]),
            "duration": result["duration"], "text": result["text"],
            "segments": [{k: v for k, v in s.items() if k != "words"} for s in result["segments"]]}
    if words:
        body["words"] = [{"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
                         for w in words]
    return body
