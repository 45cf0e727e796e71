"""The guard of ``convgrad.symbolic.assert_identity``: a check whose two sides are built the same way cannot
fail, so it is refused before SymPy is asked anything."""

import ast
import linecache
import numbers
import sys

import sympy as sp


def refuse_a_check_that_cannot_fail(lhs, rhs, claim):
    """The guard of ``assert_identity``: raise ValueError if its two sides are built the same way (called by
    assert_identity itself, so that the caller's frame is two levels up)."""
    if isinstance(lhs, str) and isinstance(rhs, str) and lhs.strip() == rhs.strip():
        raise ValueError(f"the two sides are the same string {lhs.strip()!r}, so the check cannot fail: {claim}")
    if lhs is rhs and not isinstance(lhs, (sp.Basic, numbers.Number)):
        raise ValueError(f"the two sides are the same {type(lhs).__name__} object, so the check cannot fail: {claim}")
    text = _same_source_arguments(sys._getframe(2))
    if text is not None:
        raise ValueError(f"the two sides are the same expression, {text}, so the check cannot fail: {claim}")


def _same_source_arguments(frame):
    """The source text of both sides if the call to assert_identity running in ``frame`` passes the same
    expression twice (compared as syntax trees); None if they differ or the source cannot be read."""
    filename = frame.f_code.co_filename
    tree = _parsed(filename, "".join(linecache.getlines(filename, frame.f_globals)))
    if tree is None:
        return None
    positions = list(frame.f_code.co_positions())
    index = frame.f_lasti // 2
    span = positions[index] if index < len(positions) and positions[index][0] else (frame.f_lineno,) * 2 + (None,) * 2
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _names_assert_identity(node.func)
             and node.lineno <= span[0] <= node.end_lineno]
    exact = [node for node in calls
             if (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset) == tuple(span)]
    calls = exact or calls      # the call instruction spans its call; by line only if the columns are unknown
    if len(calls) != 1:
        return None
    args = list(calls[0].args) + [k.value for k in calls[0].keywords if k.arg in ("lhs", "rhs")]
    if len(args) < 2 or ast.dump(args[0]) != ast.dump(args[1]):
        return None
    return ast.unparse(args[0])


def _names_assert_identity(func):
    return (isinstance(func, ast.Name) and func.id == "assert_identity") or (
        isinstance(func, ast.Attribute) and func.attr == "assert_identity")


_PARSED = {}


def _parsed(filename, source):
    if not source:
        return None
    key = (filename, hash(source))
    if key not in _PARSED:
        try:
            _PARSED[key] = ast.parse(source)
        except (SyntaxError, ValueError):
            _PARSED[key] = None
    return _PARSED[key]
