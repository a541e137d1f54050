"""Small inline SVG charts for the HTML report: bars, stacked bars, histogram, pie, line.

Each function returns one ``<svg>`` element as text, for inline use in HTML (no ``xmlns``: the page
refers to nothing outside itself): no script, no external font, image or style sheet (a generic ``sans-serif`` family, so a mail client draws Chinese with its own font), at most
:data:`WIDTH` pixels wide so the page fits a 700-pixel e-mail column. Every text is escaped.
Standard library only.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

from ..i18n import display_width
from .summaries import nice_step

WIDTH, HEIGHT = 660, 300
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
#: series keep their colour in every chart, in the workbook too: grades A green … D red, T grey;
#: the whitelist green, the blacklist black
SERIES_COLORS = {"A": "#59a14f", "B": "#4e79a7", "C": "#f28e2b", "D": "#e15759", "T": "#bab0ac",
                 "whitelist": "#59a14f", "blacklist": "#333333"}
GOAL_COLOR = "#c00000"
FONT = 'font-family="sans-serif"'
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 48, 64


def color(key: str, i: int) -> str:
    """The colour of series (or pie slice) ``key`` (canonical: ``A``, ``blacklist``…), the ``i``-th."""
    return SERIES_COLORS.get(key) or PALETTE[i % len(PALETTE)]


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _tick(v: float, percent: bool) -> str:
    if percent:
        return f"{v * 100:.0f}%"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def _open(title: str, height: int = HEIGHT) -> list[str]:
    return [f'<svg width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" {FONT} font-size="12">',
            f"<title>{escape(title)}</title>",
            f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>']


def _legend(names: Sequence[str], colors: Sequence[str], y: float = 34, line_names: Sequence[str] = ()) -> list[str]:
    out, x = [], _LEFT
    for name, c in zip(names, colors):
        out.append(f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" fill="{c}"/>')
        out.append(f'<text x="{_num(x + 14)}" y="{_num(y)}">{escape(str(name))}</text>')
        x += 24 + 7 * display_width(str(name))
    for name in line_names:
        out.append(f'<line x1="{_num(x)}" y1="{_num(y - 4)}" x2="{_num(x + 14)}" y2="{_num(y - 4)}" '
                   f'stroke="{GOAL_COLOR}" stroke-width="2" stroke-dasharray="4 2"/>')
        out.append(f'<text x="{_num(x + 18)}" y="{_num(y)}">{escape(str(name))}</text>')
        x += 28 + 7 * display_width(str(name))
    return out


def _empty(title: str, message: str) -> str:
    return "".join(_open(title, 120)) + (f'<text x="{WIDTH / 2}" y="70" text-anchor="middle" fill="#666">'
                                         f"{escape(message)}</text></svg>")


def _axes(top: float, percent: bool) -> tuple[float, list[float]]:
    top = max(top, 1e-9)
    step = nice_step(top, 5) if not percent or top > 0.05 else 0.01
    if not percent:
        step = max(step, 1.0) if top >= 5 else step
    high = math.ceil(top / step - 1e-9) * step
    ticks = [i * step for i in range(int(round(high / step)) + 1)]
    return high, ticks


def _frame(categories: Sequence[str], high: float, ticks: Sequence[float], percent: bool, height: int) -> list[str]:
    plot_h = height - _TOP - _BOTTOM
    out = []
    for t in ticks:
        y = _TOP + plot_h - (t / high) * plot_h if high else _TOP + plot_h
        out.append(f'<line x1="{_LEFT}" y1="{_num(y)}" x2="{WIDTH - _RIGHT}" y2="{_num(y)}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{_num(y + 4)}" text-anchor="end" fill="#444">{_tick(t, percent)}</text>')
    out.append(f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - _RIGHT}" y2="{_TOP + plot_h}" stroke="#888"/>')
    n = max(len(categories), 1)
    slot = (WIDTH - _LEFT - _RIGHT) / n
    rotate = any(display_width(str(c)) * 7 > slot * 0.95 for c in categories)
    every = max(1, math.ceil(n / 30))            # at most 30 labels; the bars keep their own titles
    for i, c in enumerate(categories):
        if i % every:
            continue
        text = str(c)
        if rotate and display_width(text) > 12:
            text = text[:6] + "…"
        x = _LEFT + slot * (i + 0.5)
        y = _TOP + plot_h + 14
        if rotate:
            out.append(f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="end" transform="rotate(-40 {_num(x)} {_num(y)})" '
                       f'fill="#444">{escape(text)}</text>')
        else:
            out.append(f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="middle" fill="#444">{escape(text)}</text>')
    return out


def bar_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
              stacked: bool = False, gap: bool = True, goal: Sequence[float] | None = None, goal_name: str = "",
              percent: bool = False, empty: str = "", height: int = HEIGHT,
              colors: Sequence[str] | None = None) -> str:
    """Columns per category: side by side, or ``stacked``; ``gap=False`` for a histogram; ``goal`` a
    value per category drawn as a dashed line (the target)."""
    if not categories or not series:
        return _empty(title, empty)
    values = [[(v or 0) for v in vs] for _, vs in series]
    tops = [sum(col) for col in zip(*values)] if stacked else [max(col) for col in zip(*values)]
    top = max([*tops, *(goal or [])], default=0)
    high, ticks = _axes(top, percent)
    plot_h = height - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / len(categories)
    inner = slot * (0.7 if gap else 1.0)
    out = _open(title, height) + _frame(categories, high, ticks, percent, height)
    colors = list(colors or [color(name, i) for i, (name, _) in enumerate(series)])
    base_y = _TOP + plot_h
    for ci in range(len(categories)):
        x0 = _LEFT + slot * ci + (slot - inner) / 2
        acc = 0.0
        for si, vs in enumerate(values):
            v = vs[ci]
            h = (v / high) * plot_h if high else 0
            if stacked:
                y = base_y - (acc / high) * plot_h - h if high else base_y
                x, w = x0, inner
                acc += v
            else:
                w = inner / len(values)
                x, y = x0 + w * si, base_y - h
            label = f"{series[si][0]} {categories[ci]}: {_tick(v, percent)}"
            out.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w - (0 if gap else 1), 0.5))}" '
                       f'height="{_num(h)}" fill="{colors[si]}"><title>{escape(label)}</title></rect>')
    if goal:
        pts = " ".join(f"{_num(_LEFT + slot * (i + 0.5))},{_num(base_y - (g / high) * plot_h)}" for i, g in enumerate(goal))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{GOAL_COLOR}" stroke-width="2" stroke-dasharray="4 2"/>')
    out += _legend([name for name, _ in series], colors, line_names=[goal_name] if goal else [])
    return "".join(out) + "</svg>"


def line_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
               empty: str = "", height: int = HEIGHT, colors: Sequence[str] | None = None) -> str:
    """One line per series over the categories (e.g. list sizes over versions), points marked."""
    if not categories or not series:
        return _empty(title, empty)
    top = max((v or 0) for _, vs in series for v in vs)
    high, ticks = _axes(top, False)
    plot_h = height - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / len(categories)
    out = _open(title, height) + _frame(categories, high, ticks, False, height)
    colors = list(colors or [color(name, i) for i, (name, _) in enumerate(series)])
    for si, (name, vs) in enumerate(series):
        pts = [(_LEFT + slot * (i + 0.5), _TOP + plot_h - ((v or 0) / high) * plot_h) for i, v in enumerate(vs)]
        out.append(f'<polyline points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in pts)}" fill="none" '
                   f'stroke="{colors[si]}" stroke-width="2"/>')
        if len(pts) <= 40:
            for (x, y), v, c in zip(pts, vs, categories):
                out.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{colors[si]}">'
                           f"<title>{escape(f'{name} {c}: {_tick(v or 0, False)}')}</title></circle>")
    out += _legend([name for name, _ in series], colors)
    return "".join(out) + "</svg>"


def pie_chart(title: str, labels: Sequence[str], values: Sequence[float], *, empty: str = "",
              height: int = HEIGHT, colors: Sequence[str] | None = None, unit: str = "") -> str:
    """Shares of a whole; the legend gives each slice's value (with ``unit``) and share."""
    total = sum(v or 0 for v in values)
    if not labels or total <= 0:
        return _empty(title, empty)
    out = _open(title, height)
    cx, cy, r = 170, (height + 30) / 2, min(110, (height - 60) / 2)
    angle = -math.pi / 2
    colors = list(colors or [color(str(lbl), i) for i, lbl in enumerate(labels)])
    for lbl, v, c in zip(labels, values, colors):
        share = (v or 0) / total
        if share <= 0:
            continue
        text = f"{lbl}: {v:,} ({share:.1%})"
        if share >= 0.9999:
            out.append(f'<circle cx="{cx}" cy="{_num(cy)}" r="{_num(r)}" fill="{c}"><title>{escape(text)}</title></circle>')
            continue
        end = angle + 2 * math.pi * share
        x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
        large = 1 if share > 0.5 else 0
        out.append(f'<path d="M{cx},{_num(cy)} L{_num(x1)},{_num(y1)} A{_num(r)},{_num(r)} 0 {large} 1 '
                   f'{_num(x2)},{_num(y2)} Z" fill="{c}" stroke="#ffffff"><title>{escape(text)}</title></path>')
        angle = end
    y = 70
    for lbl, v, c in zip(labels, values, colors):
        share = (v or 0) / total
        out.append(f'<rect x="330" y="{y - 10}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="348" y="{y}">{escape(f"{lbl}  {v:,}{unit}  {share:.1%}")}</text>')
        y += 22
    return "".join(out) + "</svg>"
