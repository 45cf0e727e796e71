"""A Sphinx extension that renders convgrad's plain-text docstrings as they read in a terminal.

Listed in ``_config.yml`` under ``sphinx: local_extensions``; it runs on every
docstring before napoleon does. convgrad's docstrings are written to be read
with ``help()``, and two of their habits render badly through reST:

* **Entries ``name : description``** in the numpy sections (Parameters,
  Returns, ...). Napoleon reads the text after the colon as a *type*, so a
  sentence lands in parentheses, cut at its commas. Each such entry becomes
  ``name`` with the description indented under it, which napoleon renders as
  "name -- description" (an entry in numpy's own layout, a short type over an
  indented sentence, is left to napoleon).
* **Indented blocks** (a table of padding modes, an index formula) after a
  paragraph: reST makes them a block quote, one run-on paragraph. Each becomes
  a plain-text code block, so its columns stay aligned.
"""

import re

FIELD_SECTIONS = {"parameters", "other parameters", "returns", "yields", "receives",
                  "attributes", "keyword arguments"}
ENTRY = re.compile(r"^(?P<indent>\s*)(?P<name>\*{0,2}[A-Za-z_][\w.]*(?:\s*,\s*\*{0,2}[A-Za-z_][\w.]*)*)"
                   r"\s+:\s+(?P<text>\S.*)$")


def _indent(line):
    return len(line) - len(line.lstrip())


def _section_at(lines, index):
    """The numpy section title at ``lines[index]`` (a title over a dashed rule), or None."""
    if index + 1 < len(lines) and lines[index].strip() and re.fullmatch(r"\s*-{3,}\s*", lines[index + 1]):
        return lines[index].strip().lower()
    return None


def split_field_entries(lines):
    """``name : description`` -> ``name`` / indented ``description`` inside field sections."""
    out, section, base = [], None, 0
    for index, line in enumerate(lines):
        title = _section_at(lines, index)
        if title is not None:
            section, base = title, _indent(line)
            out.append(line)
            continue
        match = ENTRY.match(line)
        following = lines[index + 1] if index + 1 < len(lines) else ""
        # "x : array, shape (n,)" over an indented "The signal." is numpy's own
        # "name : type" layout: napoleon renders that one well.
        typed = (match is not None and _indent(following) > base and following.strip()[:1].isupper()
                 and not match["text"].rstrip().endswith((".", ";", ",", ":")))
        if section in FIELD_SECTIONS and match and len(match["indent"]) == base and not typed:
            out.append(match["indent"] + match["name"])
            out.append(match["indent"] + "    " + match["text"])
        else:
            out.append(line)
    return out


INLINE_MARKUP = re.compile(r"``|:\w+:`|\*\*")


def _block(lines, start, outer):
    """The lines of the indented block from ``lines[start]``, deeper than ``outer``."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > outer):
        end += 1
    return lines[start:end]


def literal_blocks(lines):
    """Mark an indented block after a paragraph as a literal block, unless reST
    already gives it a meaning (``::``, a directive, a list, a field, a section)
    or it uses inline markup (then it is prose, and stays a quoted paragraph)."""
    out = []
    previous = ""  # the last non-blank line
    blank_before = False
    in_literal_indent = None
    for index, line in enumerate(lines):
        if not line.strip():
            out.append(line)
            blank_before = bool(previous)
            continue
        indent = _indent(line)
        if in_literal_indent is not None and indent > in_literal_indent:
            out.append(line)
            previous = line
            continue
        in_literal_indent = None
        ends_literal = previous.rstrip().endswith("::")
        opens_block = (blank_before and previous and indent > _indent(previous) and not ends_literal
                       and not previous.lstrip().startswith((".. ", "* ", "- ", ":", ">>>"))
                       and _section_at(lines, index) is None
                       and not re.match(r"\s*-{3,}\s*$", previous)
                       and not any(INLINE_MARKUP.search(text)
                                   for text in _block(lines, index, _indent(previous))))
        if opens_block:
            # Plain text, not highlighted as Python code.
            out.insert(len(out) - 1, "")
            out.insert(len(out) - 1, " " * _indent(previous) + ".. code-block:: text")
            in_literal_indent = _indent(previous)
        elif ends_literal and blank_before and indent > _indent(previous):
            in_literal_indent = _indent(previous)
        out.append(line)
        previous = line
        blank_before = False
    return out


def tidy(app, what, name, obj, options, lines):
    lines[:] = literal_blocks(split_field_entries(lines))


def setup(app):
    # Before napoleon (priority 500), which turns the numpy sections into fields.
    app.connect("autodoc-process-docstring", tidy, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
