"""The run on one picture: an inline SVG of every request against SystmOne's two limits.

Four bands share one time axis (seconds from the start of the run), with the
phases shaded behind them:

1. SystmOne requests: a tick per request sent; a non-exempt GetPatientRecord is a
   tall red tick;
2. FHIR answers: a tick per answer the FHIR callers got, coloured by status (429s
   amber, 5xx red);
3. the gap from each request to the one before, as a multiple of the request
   interval, against the limit (once the interval): a dot under the line is a breach;
4. the same for non-exempt GetPatientRecords against the record interval.

Plain SVG, no script: a reviewer's browser (or a printed page) shows it as it is.
"""

from __future__ import annotations

import itertools
from html import escape

from .api import Answer
from .rules import Sent

WIDTH, LEFT, RIGHT = 960, 150, 20
BANDS = {"requests": (30, 70), "answers": (90, 120), "request-gaps": (145, 235),
         "record-gaps": (260, 350)}
HEIGHT = 385
CEILING = 4.0  # gaps are drawn up to this many intervals; beyond, at the top
PHASE_FILL = {"scripted": "#eef3fb", "throttle": "#fbf3e6", "faults": "#f3eefb"}


def svg(sends: list[Sent], answers: list[Answer], phases: dict[str, tuple[float, float]],
        request_interval: float, record_interval: float) -> str:
    end = max([s.at for s in sends] + [a.ended for a in answers]
              + [span[1] for span in phases.values()] + [1.0])
    x = _scale(end * 1.02)
    parts = [f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
             f'{HEIGHT}" width="100%" role="img" aria-label="Requests of the run against '
             'SystmOne\'s limits">']
    parts += _phases(phases, x)
    parts += _labels()
    parts += _requests(sends, x)
    parts += _answers(answers, x)
    ordered = sorted(sends, key=lambda sent: sent.at)
    parts += _gaps("request-gaps", ordered, request_interval, x, "request interval")
    parts += _gaps("record-gaps", [s for s in ordered if s.full_record], record_interval, x,
                   "record interval")
    parts += _axis(end, x)
    parts.append("</svg>")
    return "\n".join(parts)


def _scale(end: float):
    def x(seconds: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * seconds / end, 2)
    return x


def _phases(phases: dict[str, tuple[float, float]], x) -> list[str]:
    shown = ['<g id="phases">']
    for name, (start, stop) in phases.items():
        width = max(1, x(stop) - x(start))
        shown.append(f'<rect class="phase" x="{x(start)}" y="18" width="{width}" '
                     f'height="{HEIGHT - 48}" fill="{PHASE_FILL.get(name, "#f4f4f4")}">'
                     f'<title>{escape(name)} phase</title></rect>')
        shown.append(f'<text x="{x(start) + 3}" y="13" class="phase-name">'
                     f'{escape(name)}</text>')
    return [*shown, "</g>"]


def _labels() -> list[str]:
    names = {"requests": "SystmOne requests", "answers": "FHIR answers",
             "request-gaps": "gap ÷ request interval", "record-gaps": "gap ÷ record interval"}
    return [f'<text x="{LEFT - 8}" y="{(top + bottom) / 2 + 4}" text-anchor="end" '
            f'class="band-label">{escape(names[band])}</text>'
            for band, (top, bottom) in BANDS.items()]


def _requests(sends: list[Sent], x) -> list[str]:
    top, bottom = BANDS["requests"]
    marks = ['<g id="requests">']
    for sent in sends:
        kind = "full" if sent.full_record else "exempt"
        y = top if sent.full_record else (top + bottom) / 2
        colour = "#c62828" if sent.full_record else "#3f6fb5"
        marks.append(f'<line class="request {kind}" x1="{x(sent.at)}" x2="{x(sent.at)}" '
                     f'y1="{y}" y2="{bottom}" stroke="{colour}" stroke-width="'
                     f'{2.5 if sent.full_record else 1.2}"><title>{escape(sent.function)}'
                     f'{" (non-exempt)" if sent.full_record else ""} at {sent.at:.3f} s'
                     '</title></line>')
    return [*marks, "</g>"]


def _answers(answers: list[Answer], x) -> list[str]:
    top, bottom = BANDS["answers"]
    marks = ['<g id="answers">']
    for answer in answers:
        colour = ("#2e7d32" if 200 <= answer.status < 400 else "#ef8f00"
                  if answer.status == 429 else "#c62828" if answer.status >= 500
                  or answer.status == 0 else "#757575")
        marks.append(f'<line class="answer status-{answer.status}" x1="{x(answer.ended)}" '
                     f'x2="{x(answer.ended)}" y1="{top}" y2="{bottom}" stroke="{colour}" '
                     f'stroke-width="1.2"><title>{escape(answer.label)}: {answer.status} '
                     f'at {answer.ended:.3f} s</title></line>')
    return [*marks, "</g>"]


def _gaps(band: str, sends: list[Sent], interval: float, x, limit_name: str) -> list[str]:
    top, bottom = BANDS[band]

    def y(multiple: float) -> float:
        return round(bottom - (bottom - top) * min(multiple, CEILING) / CEILING, 2)

    marks = [f'<g id="{band}">',
             f'<rect x="{LEFT}" y="{y(1)}" width="{WIDTH - LEFT - RIGHT}" '
             f'height="{bottom - y(1)}" fill="#fdecea"/>',
             f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(1)}" y2="{y(1)}" '
             'stroke="#c62828" stroke-dasharray="5 3"/>',
             f'<text x="{WIDTH - RIGHT}" y="{y(1) - 3}" text-anchor="end" class="limit-label">'
             f'limit: {interval:g} s ({escape(limit_name)})</text>']
    for earlier, later in itertools.pairwise(sends):
        gap = later.at - earlier.at
        breach = gap < interval
        marks.append(f'<circle class="gap{" breach" if breach else ""}" cx="{x(later.at)}" '
                     f'cy="{y(gap / interval)}" r="2.6" fill="'
                     f'{"#c62828" if breach else "#3f6fb5"}"><title>{escape(later.function)}'
                     f' {gap:.3f} s after {escape(earlier.function)}</title></circle>')
    return [*marks, "</g>"]


def _axis(end: float, x) -> list[str]:
    step = _tick_step(end)
    ticks = ['<g id="axis">', f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - 30}" '
             f'y2="{HEIGHT - 30}" stroke="#555"/>']
    value = 0.0
    while value <= end:
        ticks.append(f'<line x1="{x(value)}" x2="{x(value)}" y1="{HEIGHT - 30}" '
                     f'y2="{HEIGHT - 26}" stroke="#555"/><text x="{x(value)}" '
                     f'y="{HEIGHT - 14}" text-anchor="middle" class="tick">{value:g} s</text>')
        value = round(value + step, 6)
    return [*ticks, "</g>"]


def _tick_step(end: float) -> float:
    """A round step giving at most about ten ticks."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if end / step <= 10:
            return step
    return 1200
