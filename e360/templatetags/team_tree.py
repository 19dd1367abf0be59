"""``{{ indent|tree_indent }}``: the one indentation of a team's name in an indented tree.

Every page that lists teams as a tree orders them with ``e360.tree.TeamTree.indented`` and indents each name with
this class (``static/e360/e360.css``), on the element that holds the name, so that a name that wraps stays indented.
A list that cannot be indented (a select's options) names each team by its path instead (``TeamTree.label``).
"""

from __future__ import annotations

from django import template

register = template.Library()

MAX_INDENT = 6  # deeper levels share the deepest indentation: the names must keep some width


@register.filter
def tree_indent(indent: int) -> str:
    """The classes of a name ``indent`` levels in (0: not indented)."""
    return f"tree-indent tree-indent--{min(max(int(indent), 0), MAX_INDENT)}"
