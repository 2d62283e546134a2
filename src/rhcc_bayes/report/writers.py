"""Report content blocks and the two writers (Markdown, self-contained HTML).

A section returns a list of blocks; the writers turn blocks into text. Sections never
write Markdown or HTML by hand, so both formats always carry the same content.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import pandas as pd


# --- blocks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    style: str = ""  # "", "banner", "note", "ok"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class Figure:
    name: str  # file name of the PNG beside report.md
    png: bytes = field(repr=False)
    caption: str = ""


@dataclass(frozen=True)
class Panel:
    """A boxed group of blocks (the bottom-line panel)."""

    blocks: tuple
    style: str = "panel"


Block = Heading | Paragraph | Bullets | Table | Figure | Panel


# --- Markdown ----------------------------------------------------------------------------
def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(map(_md_cell, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def block_markdown(block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Paragraph):
        return f"**{block.text}**" if block.style == "banner" else block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    if isinstance(block, Table):
        return md_table(block.frame)
    if isinstance(block, Figure):
        return f"![{block.caption}]({block.name})\n\n*{block.caption}*"
    if isinstance(block, Panel):
        inner = "\n\n".join(block_markdown(b) for b in block.blocks)
        return "\n".join("> " + line if line else ">" for line in inner.splitlines())
    raise TypeError(f"unknown report block {type(block).__name__}")


def to_markdown(blocks) -> str:
    return "\n\n".join(block_markdown(b) for b in blocks) + "\n"


# --- HTML --------------------------------------------------------------------------------
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even){background:#fafafa}
img{max-width:100%;border:1px solid #eee}
.banner{background:#b00020;color:#fff;font-weight:bold;font-size:18px;padding:1em;border:4px solid #600;margin:1em 0}
.ok{background:#e8f5e9;padding:.5em;border-left:4px solid #2e7d32}
.note{background:#fff8e1;padding:.5em;border-left:4px solid #f9a825}
.panel{background:#f3f7fb;border:2px solid #2b5d8a;border-radius:6px;padding:.3em 1.2em;margin:1em 0}
.panel h2{margin-top:.5em}.panel table{font-size:14px}.panel .answer{font-size:17px}
code{background:#f4f4f4;padding:0 3px}
"""


def html_table(df: pd.DataFrame, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def block_html(block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        cls = f' class="{block.style}"' if block.style else ""
        return f"<p{cls}>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return html_table(block.frame)
    if isinstance(block, Figure):
        b64 = base64.b64encode(block.png).decode("ascii")
        return (f'<figure><img alt="{html.escape(block.caption)}" src="data:image/png;base64,{b64}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
    if isinstance(block, Panel):
        return f'<section class="{block.style}">' + "\n".join(block_html(b) for b in block.blocks) + "</section>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def to_html(title: str, blocks) -> str:
    body = "\n".join(block_html(b) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
