"""``report.html``: the evidence pack as one self-contained page.

Inline CSS and an inline SVG, no script, nothing fetched: it opens from a file, a
mail attachment or an archive as it is, and prints. Every value shown is escaped.
"""

from __future__ import annotations

import json
from html import escape

from .report import Evidence, message_files, to_json
from .scenario import CHECKLIST
from .timeline import svg

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#1d1d1d;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#ddd;padding-bottom:4px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:6px 14px;border-radius:4px;font-weight:600;
color:#fff;margin:8px 0}.verdict.passed{background:#2e7d32}.verdict.failed{background:#c62828}
.status{font-weight:600}.status.passed{color:#2e7d32}.status.failed{color:#c62828}
.status.skipped{color:#757575}code,pre{font:12px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;white-space:pre-wrap}
details{margin:4px 0}.meta td:first-child{width:220px;color:#555}
.legend span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:12px;
height:12px;margin-right:4px;vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#333}svg .phase-name{fill:#777}
"""


def render(evidence: Evidence) -> str:
    data = to_json(evidence)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>SystmOne interface assurance: evidence pack</title>",
        f"<style>{STYLE}</style></head><body>",
        _header(evidence, data),
        _summary(data),
        _timeline(evidence),
        _scenarios(evidence),
        _messages(evidence),
        _answers(evidence),
        _sections(evidence),
        _versions(evidence),
        "</body></html>", ""])


def _status(passed: bool, skipped: bool = False) -> str:
    word = "skipped" if skipped else "passed" if passed else "failed"
    return f'<span class="status {word}">{word}</span>'


def _header(evidence: Evidence, data: dict) -> str:
    word = "passed" if evidence.passed else "failed"
    counts = data["summary"]
    rows = [("Endpoint", evidence.endpoint),
            ("Request interval", f"{evidence.intervals['request']:g} s"),
            ("Record interval", f"{evidence.intervals['record']:g} s"),
            ("Started", evidence.started), ("Took", f"{evidence.seconds:.1f} s"),
            ("Scenarios", f"{counts['passed']} passed, {counts['failed']} failed, "
                          f"{counts['skipped']} skipped")]
    return ("<h1>SystmOne interface assurance: evidence pack</h1>"
            f'<div id="verdict" class="verdict {word}">Every scenario passed</div>'
            if evidence.passed else
            "<h1>SystmOne interface assurance: evidence pack</h1>"
            f'<div id="verdict" class="verdict {word}">{counts["failed"]} scenario(s) '
            "failed</div>") + _table(("", ""), rows, css="meta", head=False)


def _summary(data: dict) -> str:
    rows = []
    for item in data["checklist"]:
        names = ", ".join(f'<a href="#scenario-{escape(s)}">{escape(s)}</a>'
                          for s in item["scenarios"])
        rows.append(f"<tr><td>{escape(item['item'])}</td><td>{_status(item['passed'])}</td>"
                    f"<td>{names}</td></tr>")
    return ('<h2>Demo → Live checklist</h2><p>Each item of the checklist in '
            "docs/assurance.md and the scenarios that answer it.</p>"
            '<table id="summary"><tr><th>Checklist item</th><th>Result</th>'
            f"<th>Scenarios</th></tr>{''.join(rows)}</table>")


def _timeline(evidence: Evidence) -> str:
    sends = [evidence.sends[m.seq] for m in evidence.messages
             if m.endpoint == evidence.main_endpoint]
    main_answers = [a for a in evidence.answers if a.phase != "faults"]
    phases = {k: v for k, v in evidence.phases.items() if k != "faults"}
    legend = ('<p class="legend"><span><i class="swatch" style="background:#3f6fb5"></i>'
              'request (exempt)</span><span><i class="swatch" style="background:#c62828">'
              '</i>non-exempt GetPatientRecord / gap under the limit</span><span>'
              '<i class="swatch" style="background:#2e7d32"></i>FHIR 2xx</span><span>'
              '<i class="swatch" style="background:#ef8f00"></i>FHIR 429</span></p>')
    return ("<h2>Timeline: every request to "
            f"{escape(evidence.main_endpoint)} against SystmOne's limits</h2>" + legend
            + svg(sends, main_answers, phases, evidence.intervals["request"],
                  evidence.intervals["record"])
            + "<p>The fault phase runs against a simulator of its own behind a "
              "fault-injecting relay; its messages are listed below.</p>")


def _scenarios(evidence: Evidence) -> str:
    rows = []
    for v in evidence.verdicts:
        detail = (f"<details><summary>evidence</summary><pre>"
                  f"{escape(json.dumps(v.evidence, indent=1, sort_keys=True))}</pre></details>"
                  if v.evidence else "")
        rows.append(f'<tr id="scenario-{escape(v.id)}"><td><code>{escape(v.id)}</code></td>'
                    f"<td>{escape(v.title)}</td><td>{_status(v.passed, v.skipped)}</td>"
                    f"<td>{escape(v.reason)}{detail}</td></tr>")
    return ('<h2>Scenarios</h2><table id="scenarios"><tr><th>id</th><th>Scenario</th>'
            f"<th>Result</th><th>Reason</th></tr>{''.join(rows)}</table>")


def _messages(evidence: Evidence) -> str:
    rows = []
    for message in evidence.messages:
        sent = evidence.sends[message.seq]
        request, reply = evidence.conformance[message.seq]
        files = message_files(message, sent)
        links = (f'<a href="{files[0]}">request</a>'
                 + (f' <a href="{files[1]}">reply</a>' if message.reply else "")
                 if evidence.keep_bodies else "not kept (live)")
        rows.append(
            f"<tr><td class=num>{message.seq}</td><td class=num>{message.sent:.3f}</td>"
            f"<td>{escape(message.phase)}</td><td>{escape(message.endpoint)}</td>"
            f"<td>{escape(sent.function)}</td><td>{'non-exempt' if sent.full_record else ''}"
            f"</td><td><code>{escape(sent.request_uid)}</code></td>"
            f"<td>{escape(message.failure or 'reply')}</td>"
            f"<td>{_valid(request)}</td><td>{_valid(reply)}</td><td>{links}</td></tr>")
    return (f"<h2>SystmOne messages ({len(evidence.messages)})</h2>"
            "<p>Every request sent and its reply, as they went over the wire (API key "
            "redacted). Requests are validated against the project's schemas and TPP's "
            "request XSDs; replies against the project's.</p>"
            '<details open><summary>messages</summary><table id="messages"><tr><th>#</th>'
            "<th>sent (s)</th><th>phase</th><th>endpoint</th><th>function</th><th>rule</th>"
            "<th>RequestUID</th><th>outcome</th><th>request valid</th><th>reply valid</th>"
            f"<th>files</th></tr>{''.join(rows)}</table></details>")


def _valid(check) -> str:
    if check is None:
        return "—"
    named = escape(", ".join(check.schemas))
    return f"yes ({named})" if check.valid else f'<b>no</b>: {escape(check.problem)}'


def _answers(evidence: Evidence) -> str:
    counts: dict[tuple[str, int], int] = {}
    for answer in evidence.answers:
        counts[(answer.phase, answer.status)] = counts.get((answer.phase, answer.status), 0) + 1
    rows = [f"<tr><td>{escape(phase)}</td><td class=num>{status or 'none'}</td>"
            f"<td class=num>{count}</td></tr>" for (phase, status), count in sorted(counts.items())]
    return (f"<h2>FHIR requests ({len(evidence.answers)})</h2>"
            '<table id="fhir-requests"><tr><th>phase</th><th>status</th><th>requests</th></tr>'
            f"{''.join(rows)}</table>")


def _sections(evidence: Evidence) -> str:
    by_id = {v.id: v for v in evidence.verdicts}
    configuration = by_id["configuration"].evidence
    lines = "\n".join(configuration.get("check", []))
    settings = "\n".join(f"FACADE_{k.upper()}={v}" for k, v in
                         configuration.get("settings", {}).items())
    audit, logs = by_id["access-audit"], by_id["logs-phi"]
    return (
        '<h2 id="configuration">Configuration (as facade check sees it)</h2>'
        f"<p>{_status(by_id['configuration'].passed)} {escape(by_id['configuration'].reason)}"
        f"</p><pre>{escape(lines)}</pre><details><summary>every setting (secrets redacted)"
        f"</summary><pre>{escape(settings)}</pre></details>"
        '<h2 id="access-audit">Access audit</h2>'
        f"<p>{_status(audit.passed)} {escape(audit.reason)}</p>"
        f"<pre>{escape(json.dumps(audit.evidence, indent=1, sort_keys=True))}</pre>"
        '<h2 id="logs">Logs scanned for patient identifiers and credentials</h2>'
        f"<p>{_status(logs.passed)} {escape(logs.reason)} The run's log, with anything "
        'found replaced by its kind, is <a href="run.log">run.log</a>.</p>'
        f"<pre>{escape(json.dumps(logs.evidence, indent=1, sort_keys=True))}</pre>")


def _versions(evidence: Evidence) -> str:
    rows = [(name, value) for name, value in sorted(evidence.versions.items())]
    tpp = [(name, digest) for name, digest in sorted(evidence.tpp_schemas.items())]
    deviations = "".join(f"<li>{escape(d)}</li>" for d in evidence.deviations)
    return ("<h2>Versions</h2>" + _table(("component", "version"), rows)
            + "<h2>TPP request XSDs applied</h2>"
            + (_table(("file", "SHA-256"), tpp) + f"<p>Deviations where TPP's XSDs lag the "
               f"specification:</p><ul>{deviations}</ul>" if tpp else
               "<p>TPP's request XSDs were not at hand: requests were validated against the "
               "project's schemas only.</p>")
            + f"<p>Checklist items: {escape(', '.join(CHECKLIST))}.</p>")


def _table(columns: tuple[str, ...], rows, css: str = "", head: bool = True) -> str:
    header = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in columns) + "</tr>" \
        if head else ""
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f'<table class="{css}">{header}{body}</table>'
