"""XPath functions the mappings may call beyond XPath 1.0's own.

``string-join(nodes, separator)``: XPath 2.0's function of that name, the string values of
``nodes`` joined by ``separator``. XPath 1.0 cannot join a node-set, so text kept in many
elements (a Narrative's Lines) could otherwise be read only one element at a time, or run
together without the breaks between its lines.

lxml registers these for every XPath the process compiles (the empty-namespace function
table); importing this module is enough.
"""

from __future__ import annotations

from lxml import etree


def string_join(_context, nodes, separator: str = "") -> str:
    if not isinstance(nodes, list):  # a string or number: its own string value
        return str(nodes)
    return str(separator).join(
        node.xpath("string()") if isinstance(node, etree._Element) else str(node)
        for node in nodes)


etree.FunctionNamespace(None)["string-join"] = string_join
