"""The message catalog: extract what kq says, keep the .po current, compile the .mo.

    python tools/catalog.py              # update kqtools/locale/zh_CN/LC_MESSAGES/kqtools.po, compile the .mo
    python tools/catalog.py --check      # exit 1 if a message lacks a translation or the .mo is stale

What is extracted (everything a user can read, by the rules the tests hold the code to):
- calls of ``_``, ``gettext``, ``N_``, ``ngettext`` and ``pgettext`` with literal text, anywhere in
  ``kqtools/``;
- in ``kqtools/cli/``: every ``help="…"`` of an option, and the docstring of every command and group
  (click shows it as the command's help);
- click's own words (its ``_()`` and ``ngettext()`` calls: Usage:, Options, error messages);
- the labels of columns and enumerated values (:func:`kqtools.labels.catalog_entries`).

The ``.po`` keeps the translations already made; a new message gets an empty ``msgstr`` (the
completeness test then fails until someone translates it); a message no longer used is dropped.
The ``.mo`` is the standard GNU format (read by :class:`gettext.GNUTranslations`), written with
its entries sorted, so the same ``.po`` always gives the same bytes. Standard library only.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import re
import string
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kqtools"
PO = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "kqtools.po"
MO = PO.with_suffix(".mo")
HEADER = ("Project-Id-Version: kqtools\n"
          "Language: zh_CN\n"
          "MIME-Version: 1.0\n"
          "Content-Type: text/plain; charset=UTF-8\n"
          "Content-Transfer-Encoding: 8bit\n"
          "Plural-Forms: nplurals=1; plural=0;\n")
MARKERS = {"_": 1, "gettext": 1, "N_": 1, "ngettext": 2, "pgettext": 2}


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    plural: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    where: list[str] = field(default_factory=list)

    @property
    def key(self):
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return all(self.msgstr) and bool(self.msgstr)


# ---------------------------------------------------------------- extraction
def _literal(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _is_command(func: ast.FunctionDef) -> bool:
    """Decorated as a click command or group (``@click.command()``, ``@jobs.command("run")``…)."""
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("command", "group"):
            return True
    return False


def messages_in(path: Path, *, cli: bool) -> list[tuple[str | None, str, str | None, int]]:
    """(context, msgid, plural, line) of every marked message in one source file; with ``cli``
    also the help texts and command docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in MARKERS:
                args = [_literal(a) for a in node.args]
                if name == "pgettext" and len(args) >= 2 and args[0] is not None and args[1] is not None:
                    found.append((args[0], args[1], None, node.lineno))
                elif name == "ngettext" and len(args) >= 2 and args[0] is not None and args[1] is not None:
                    found.append((None, args[0], args[1], node.lineno))
                elif name in ("_", "gettext", "N_") and args and args[0] is not None:
                    found.append((None, args[0], None, node.lineno))
            if cli:
                for kw in node.keywords:
                    if kw.arg == "help" and _literal(kw.value):
                        found.append((None, _literal(kw.value), None, kw.value.lineno))
        elif cli and isinstance(node, ast.FunctionDef) and _is_command(node):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                found.append((None, doc, None, node.lineno))
    return found


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def columns_in(path: Path) -> list[tuple[str, int]]:
    """Column names a module shows: the text items of its public ``*_COLUMNS`` / ``*_FIELDS``
    constants, and the literal column lists it gives to ``emit()``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def names(expr):
        for sub in ast.walk(expr):
            text = _literal(sub)
            if text and _IDENTIFIER.match(text):
                found.append((text, sub.lineno))

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(t.endswith(("COLUMNS", "FIELDS")) and not t.startswith("_") for t in targets):
                names(node.value)
        elif isinstance(node, ast.Call) and _call_name(node) == "emit" and len(node.args) >= 2:
            if isinstance(node.args[1], (ast.List, ast.Tuple)):
                names(node.args[1])
    return found


def click_messages() -> list[tuple[str | None, str, str | None, int, str]]:
    """click's own user-facing words, from the installed click."""
    import click

    out = []
    for path in sorted(Path(click.__file__).parent.glob("*.py")):
        for ctx, msgid, plural, line in messages_in(path, cli=False):
            out.append((ctx, msgid, plural, line, f"click/{path.name}"))
    return out


def extract() -> dict[tuple, Entry]:
    entries: dict[tuple, Entry] = {}

    def add(ctx, msgid, plural, where):
        if not msgid:
            return
        entry = entries.setdefault((ctx, msgid), Entry(msgid, ctx, plural))
        entry.plural = entry.plural or plural
        entry.where.append(where)

    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for ctx, msgid, plural, line in messages_in(path, cli=rel.startswith("kqtools/cli/")):
            add(ctx, msgid, plural, f"{rel}:{line}")
        for column, line in columns_in(path):
            add("column", column, None, f"{rel}:{line}")
    for ctx, msgid, plural, line, where in click_messages():
        add(ctx, msgid, plural, f"{where}:{line}")
    sys.path.insert(0, str(ROOT))
    from kqtools import labels

    for ctx, msgid, where in labels.catalog_entries():
        add(ctx, msgid, None, where)
    return entries


# ---------------------------------------------------------------- .po files
def _unquote(text: str) -> str:
    body = text.strip()
    if not (body.startswith('"') and body.endswith('"')):
        raise ValueError(f"not a quoted string: {text!r}")
    body = body[1:-1]
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_po(path: Path = PO) -> tuple[str, dict[tuple, Entry]]:
    """The header's msgstr and the entries of a .po file (obsolete ``#~`` entries are skipped)."""
    entries: dict[tuple, Entry] = {}
    header = ""
    cur: dict = {}
    last = None

    def flush():
        nonlocal header, cur, last
        if "msgid" in cur:
            msgstr = [cur[k] for k in sorted(k for k in cur if isinstance(k, int))]
            if cur["msgid"] == "" and cur.get("msgctxt") is None:
                header = msgstr[0] if msgstr else ""
            else:
                e = Entry(cur["msgid"], cur.get("msgctxt"), cur.get("msgid_plural"), msgstr or [""],
                          cur.get("where", []))
                entries[e.key] = e
        cur, last = {}, None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#:"):
            if "msgid" in cur:
                flush()
            cur.setdefault("where", []).extend(line[2:].split())
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if m:
            keyword, index, text = m.group(1), m.group(2), m.group(3)
            if keyword in ("msgctxt", "msgid") and "msgid" in cur and any(isinstance(k, int) for k in cur):
                flush()
            key = int(index) if index is not None else (0 if keyword == "msgstr" else keyword)
            cur[key] = _unquote(text)
            last = key
        elif line.startswith('"') and last is not None:
            cur[last] += _unquote(line)
        else:
            raise ValueError(f"{path}:{lineno}: cannot read {raw!r}")
    flush()
    return header, entries


def _quote(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
               .replace("\b", "\\b").replace("\f", "\\f").replace("\v", "\\v").replace("\a", "\\a"))
    lines = escaped.split("\n")
    if len(lines) == 1:
        return f'"{escaped}"'
    parts = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    return '""\n' + "\n".join(f'"{p}"' for p in parts)


def write_po(entries: dict[tuple, Entry], path: Path = PO, header: str = HEADER) -> None:
    out = ["# Chinese (中文) messages of kqtools. Update with: python tools/catalog.py",
           "# (it extracts the messages, keeps these translations and compiles kqtools.mo).",
           'msgid ""', f"msgstr {_quote(header)}", ""]
    for e in sorted(entries.values(), key=lambda e: (e.msgctxt or "", e.msgid)):
        for i in range(0, len(e.where), 4):
            out.append("#: " + " ".join(e.where[i:i + 4]))
        if e.msgctxt is not None:
            out.append(f"msgctxt {_quote(e.msgctxt)}")
        out.append(f"msgid {_quote(e.msgid)}")
        if e.plural is not None:
            out.append(f"msgid_plural {_quote(e.plural)}")
            out.append(f"msgstr[0] {_quote(e.msgstr[0] if e.msgstr else '')}")
        else:
            out.append(f"msgstr {_quote(e.msgstr[0] if e.msgstr else '')}")
        out.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")


def merge(extracted: dict[tuple, Entry], existing: dict[tuple, Entry]) -> tuple[dict[tuple, Entry], list]:
    """The extracted messages with the translations already made; returns them and the dropped keys."""
    merged = {}
    for key, e in extracted.items():
        old = existing.get(key)
        merged[key] = Entry(e.msgid, e.msgctxt, e.plural, list(old.msgstr) if old else [""], e.where)
    return merged, [k for k in existing if k not in extracted]


# ---------------------------------------------------------------- .mo files
def compile_mo(entries: dict[tuple, Entry], header: str = HEADER) -> bytes:
    """The GNU .mo bytes of the translated entries (untranslated ones are left out: gettext then
    falls back to English)."""
    pairs = {b"": header.encode("utf-8")}
    for e in entries.values():
        if not e.translated:
            continue
        key = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"
        if e.plural is not None:
            key += "\0" + e.plural
        pairs[key.encode("utf-8")] = "\0".join(e.msgstr).encode("utf-8")
    keys = sorted(pairs)
    n = len(keys)
    originals_at = 7 * 4
    translations_at = originals_at + n * 8
    data_at = translations_at + n * 8
    blobs, o_table, t_table = bytearray(), [], []
    for k in keys:
        o_table.append((len(k), data_at + len(blobs)))
        blobs += k + b"\0"
    for k in keys:
        v = pairs[k]
        t_table.append((len(v), data_at + len(blobs)))
        blobs += v + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, n, originals_at, translations_at, 0, 0)
    tables = b"".join(struct.pack("<2I", *p) for p in o_table + t_table)
    return head + tables + bytes(blobs)


# ---------------------------------------------------------------- checks
_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdirfx%]")


def placeholders(text: str) -> set[str]:
    """The named ``{placeholders}`` of a message (``{{`` is a brace, not a placeholder), and its
    ``%(name)s`` / ``%s`` ones (click's version message)."""
    found = {m.group(0) for m in _PERCENT.finditer(text) if m.group(0) != "%%"}
    try:
        return found | {f"{name}!{conv}" if conv else name for _, name, _spec, conv in string.Formatter().parse(text)
                        if name is not None}
    except ValueError:
        return found


def problems(entries: dict[tuple, Entry]) -> list[str]:
    """Every message without a translation, or whose translation drops or invents a placeholder."""
    out = []
    for e in sorted(entries.values(), key=lambda e: (e.msgctxt or "", e.msgid)):
        where = e.where[0] if e.where else "?"
        label = f"{e.msgctxt}|{e.msgid}" if e.msgctxt else e.msgid
        if not e.translated:
            out.append(f"{where}: no translation: {label!r}")
            continue
        for s in e.msgstr:
            # a plural entry is given all its values (click's are): one Chinese form may use any of them
            want = placeholders(e.msgid) | (placeholders(e.plural) if e.plural else set())
            if placeholders(s) != want and not (e.plural and placeholders(s) <= want):
                out.append(f"{where}: placeholders {sorted(placeholders(s))} in the translation of {label!r}, "
                           f"expected {sorted(want)}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=inspect.cleandoc(__doc__ or ""),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 on a problem")
    args = ap.parse_args(argv)
    extracted = extract()
    header, existing = read_po() if PO.exists() else (HEADER, {})
    merged, dropped = merge(extracted, existing)
    found = problems(merged)
    if args.check:
        stale = not MO.exists() or MO.read_bytes() != compile_mo(merged, header or HEADER)
        for p in found:
            print(p)
        if dropped:
            print(f"{len(dropped)} messages in the .po are no longer used: run python tools/catalog.py")
        if stale:
            print(f"{MO.relative_to(ROOT)} is not the compiled {PO.name}: run python tools/catalog.py")
        return 1 if found or stale or dropped else 0
    write_po(merged, PO, header or HEADER)
    MO.write_bytes(compile_mo(merged, header or HEADER))
    print(f"{len(merged)} messages, {sum(e.translated for e in merged.values())} translated, "
          f"{len(dropped)} dropped; wrote {PO.relative_to(ROOT)} and {MO.name}")
    for p in found[:20]:
        print(p)
    if len(found) > 20:
        print(f"... and {len(found) - 20} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
