"""tools/docstring_layout.py: convgrad's plain-text docstrings, made into reST that renders as they read."""

from tools.docstring_layout import literal_blocks, split_field_entries


def test_entries_name_colon_description_become_name_then_description():
    lines = ["Pad it.", "", "Parameters", "----------",
             "x : array, any shape, e.g. ``(N, C, H, W)``.",
             "stride, dilation : int >= 1.", "", "Returns", "-------",
             "x_pad : x's shape;", "    ``x_pad[p] = x[src(p)]``.", "", "Raises", "------",
             "ValueError", "    An unknown mode: a colon here : stays."]
    assert split_field_entries(lines) == [
        "Pad it.", "", "Parameters", "----------",
        "x", "    array, any shape, e.g. ``(N, C, H, W)``.",
        "stride, dilation", "    int >= 1.", "", "Returns", "-------",
        "x_pad", "    x's shape;", "    ``x_pad[p] = x[src(p)]``.", "", "Raises", "------",
        "ValueError", "    An unknown mode: a colon here : stays."]


def test_numpy_layout_name_type_over_a_description_is_left_to_napoleon():
    lines = ["Parameters", "----------", "x : array, shape (n,) or (H, W)", "    The signal or image."]
    assert split_field_entries(lines) == lines


def test_a_prose_line_with_a_colon_outside_sections_is_kept():
    lines = ["Modes : four of them.", "", "x : not a field here"]
    assert split_field_entries(lines) == lines


def test_an_indented_table_after_a_paragraph_becomes_a_literal_block():
    lines = ["Modes, for a row:", "", "    zeros      0 0 | 1 2 | 0 0",
             "    reflect    2 1 | 1 2 | 2 1", "", "Every padded entry is a copy."]
    out = literal_blocks(lines)
    assert out == ["Modes, for a row:", "", ".. code-block:: text", "", "    zeros      0 0 | 1 2 | 0 0",
                   "    reflect    2 1 | 1 2 | 2 1", "", "Every padded entry is a copy."]


def test_blocks_that_rest_already_understands_or_that_use_markup_are_kept():
    kept = [
        ["Example::", "", "    y = f(x)"],                       # already literal
        [".. note::", "", "    Read me."],                       # a directive's body
        ["Parameters", "----------", "x", "    the input."],   # a numpy section
        ["Formula:", "", "    ``C[i, j] = k[a, b]`` when ``r = i``"],  # inline markup: prose
        ["A paragraph", "that goes on.", "", "Another one."],    # no indented block
    ]
    for lines in kept:
        assert literal_blocks(lines) == lines, lines
