"""The evidence pack: ``report.json``, ``report.html``, the messages and the run's log.

``report.json`` keeps what should be the same from run to run (and release to
release) apart from what is not: the verdicts (``passed``, ``scenarios``,
``checklist``) and what the run was against sit at the top; every time, id and
measurement sits under ``run``. Keys are sorted, so two packs diff cleanly.

Every SystmOne message is kept under ``messages/`` as it went over the wire, with
the API key replaced by ``[redacted]``. On the live profile the messages hold real
patients' records, so their bodies are not kept (only what the tables show).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..files import private_dir
from .api import Answer
from .conformance import Check
from .recorder import Message
from .rules import Sent
from .scenario import CHECKLIST, Verdict

FORMAT = "facade-assurance/1"
_API_KEY = re.compile(rb"(<APIKey>)[^<]*(</APIKey>)")


@dataclass
class Evidence:
    """Everything an assurance run gathered."""

    verdicts: list[Verdict]
    endpoint: str
    intervals: dict[str, float]
    versions: dict[str, str]
    started: str  # wall clock, ISO 8601
    seconds: float
    phases: dict[str, tuple[float, float]]
    messages: list[Message]
    sends: dict[int, Sent]  # by message seq
    conformance: dict[int, tuple[Check, Check | None]]  # by message seq: request, reply
    answers: list[Answer]
    main_endpoint: str
    tpp_schemas: dict[str, str] = field(default_factory=dict)
    deviations: tuple[str, ...] = ()
    log_lines: list[str] = field(default_factory=list)
    keep_bodies: bool = True

    @property
    def passed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts)


def to_json(evidence: Evidence) -> dict:
    by_item: dict[str, list[Verdict]] = {item: [] for item in CHECKLIST}
    for verdict in evidence.verdicts:
        by_item[verdict.checklist].append(verdict)
    return {
        "format": FORMAT,
        "passed": evidence.passed,
        "summary": {status: sum(v.status == status for v in evidence.verdicts)
                    for status in ("passed", "failed", "skipped")},
        "scenarios": [{"id": v.id, "title": v.title, "checklist": v.checklist,
                       "passed": v.passed, "skipped": v.skipped, "reason": v.reason}
                      for v in evidence.verdicts],
        "checklist": [{"id": item, "item": text, "passed": all(v.passed for v in by_item[item]),
                       "scenarios": [v.id for v in by_item[item]]}
                      for item, text in CHECKLIST.items()],
        "endpoint": evidence.endpoint,
        "intervals": evidence.intervals,
        "versions": evidence.versions,
        "schemas": {"tpp_request_xsds": evidence.tpp_schemas,
                    "deviations_from_tpp": list(evidence.deviations)},
        "run": {
            "started": evidence.started,
            "seconds": round(evidence.seconds, 3),
            "phases": {name: [round(a, 3), round(b, 3)]
                       for name, (a, b) in evidence.phases.items()},
            "evidence": {v.id: v.evidence for v in evidence.verdicts},
            "messages": [_message(evidence, message) for message in evidence.messages],
            "fhir_requests": [_answer(answer) for answer in evidence.answers],
        },
    }


def message_files(message: Message, sent: Sent) -> tuple[str, str]:
    stem = f"messages/{message.seq:04d}-{sent.function or 'unreadable'}"
    return f"{stem}.request.xml", f"{stem}.reply.xml"


def _message(evidence: Evidence, message: Message) -> dict:
    sent = evidence.sends[message.seq]
    request, reply = evidence.conformance[message.seq]
    files = message_files(message, sent) if evidence.keep_bodies else ("", "")
    return {
        "seq": message.seq, "endpoint": message.endpoint, "phase": message.phase,
        "function": sent.function, "request_uid": sent.request_uid,
        "device_id": sent.device_id, "full_record": sent.full_record,
        "sent": round(message.sent, 4), "answered": round(message.answered, 4),
        "outcome": message.failure or "reply",
        "request_schemas": list(request.schemas), "request_problem": request.problem,
        "reply_schemas": list(reply.schemas) if reply else [],
        "reply_problem": reply.problem if reply else "",
        "request_file": files[0], "reply_file": files[1] if message.reply else "",
    }


def _answer(answer: Answer) -> dict:
    return {"phase": answer.phase, "asked": answer.label, "started": round(answer.started, 4),
            "ended": round(answer.ended, 4), "status": answer.status,
            "retry_after": answer.retry_after, "request_id": answer.request_id,
            "issue": answer.issue, "problem": answer.problem}


def redact(document: bytes) -> bytes:
    return _API_KEY.sub(rb"\1[redacted]\2", document)


def write(evidence: Evidence, folder: Path, html: str) -> Path:
    """Write the pack into ``folder`` (made private); the report.html path."""
    folder = private_dir(Path(folder))
    messages = folder / "messages"
    if messages.is_dir():
        for old in messages.glob("*.xml"):
            old.unlink()
    if evidence.keep_bodies:
        messages.mkdir(mode=0o700, exist_ok=True)
        for message in evidence.messages:
            request_file, reply_file = message_files(message, evidence.sends[message.seq])
            (folder / request_file).write_bytes(redact(message.request))
            if message.reply is not None:
                (folder / reply_file).write_bytes(redact(message.reply))
    (folder / "run.log").write_text("\n".join(evidence.log_lines) + "\n", encoding="utf-8")
    (folder / "report.json").write_text(
        json.dumps(to_json(evidence), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8")
    page = folder / "report.html"
    page.write_text(html, encoding="utf-8")
    return page
