"""Shape of one GraphQL document: what a gateway's depth/size limits look at.

Metrics are computed on the AST from graphql-core with fragment spreads expanded, because an
attacker hides a depth or alias bomb inside fragments: `{ ...A }` with A spreading B twice, B
spreading C twice, ... costs 2^n fields while the text stays short. Expansion is memoised per
fragment, so the numbers are computed in time linear in the document even when the expanded
query is exponential. A fragment cycle is invalid GraphQL (servers reject it): it is reported
as a parse error rather than expanded forever.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from graphql import parse
from graphql.error import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
QUANTILES = (0.50, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class DocMetrics:
    depth: int = 0  # deepest field nesting, fragments expanded; `{ a { b } }` is 2
    fields: int = 0  # fields selected, fragments expanded (the query's size)
    aliases: int = 0  # aliased fields, fragments expanded (alias bombs repeat one field under many names)
    fragments: int = 0  # fragment definitions in the document
    spreads: int = 0  # fragment spreads as written
    introspection: bool = False  # selects __schema or __type
    parse_error: str | None = None


@dataclass(frozen=True)
class _Shape:
    depth: int
    fields: int
    aliases: int
    introspection: bool


class _FragmentCycle(Exception):
    pass


class _Walker:
    def __init__(self, doc: DocumentNode):
        self.fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
        self.memo: dict[str, _Shape] = {}
        self.active: set[str] = set()
        self.spreads = 0

    def fragment(self, name: str) -> _Shape:
        if name in self.memo:
            return self.memo[name]
        if name in self.active:
            raise _FragmentCycle(name)
        definition = self.fragments.get(name)
        if definition is None:
            return _Shape(0, 0, 0, False)  # unknown fragment: servers reject it; it selects nothing here
        self.active.add(name)
        shape = self.selection_set(definition.selection_set)
        self.active.discard(name)
        self.memo[name] = shape
        return shape

    def selection_set(self, node: SelectionSetNode | None) -> _Shape:
        depth = fields = aliases = 0
        introspection = False
        for sel in node.selections if node else ():
            if isinstance(sel, FieldNode):
                inner = self.selection_set(sel.selection_set)
                depth = max(depth, 1 + inner.depth)
                fields += 1 + inner.fields
                aliases += (1 if sel.alias else 0) + inner.aliases
                introspection = introspection or sel.name.value in INTROSPECTION_FIELDS or inner.introspection
            else:
                if isinstance(sel, FragmentSpreadNode):
                    inner = self.fragment(sel.name.value)
                else:
                    assert isinstance(sel, InlineFragmentNode)
                    inner = self.selection_set(sel.selection_set)
                depth = max(depth, inner.depth)
                fields += inner.fields
                aliases += inner.aliases
                introspection = introspection or inner.introspection
        return _Shape(depth, fields, aliases, introspection)


def count_spreads(node: object) -> int:
    if isinstance(node, FragmentSpreadNode):
        return 1
    selection_set = getattr(node, "selection_set", None)
    return sum(count_spreads(s) for s in selection_set.selections) if selection_set else 0


def document_metrics(text: str) -> DocMetrics:
    """Metrics of the document's operations (every operation counted; the server may run any of them)."""
    try:
        doc = parse(text, no_location=True, max_tokens=200_000)
    except GraphQLError as exc:
        return DocMetrics(parse_error=exc.message[:200])
    except RecursionError:
        return DocMetrics(parse_error="nesting too deep to parse")
    walker = _Walker(doc)
    try:
        shapes = [walker.selection_set(d.selection_set) for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        spreads = sum(count_spreads(d) for d in doc.definitions)
    except _FragmentCycle as cycle:
        return DocMetrics(fragments=len(walker.fragments), parse_error=f"fragment cycle through {cycle.args[0]}")
    except RecursionError:
        return DocMetrics(fragments=len(walker.fragments), parse_error="nesting too deep to walk")
    if not shapes:
        return DocMetrics(fragments=len(walker.fragments), parse_error="no operation in document")
    return DocMetrics(
        depth=max(s.depth for s in shapes),
        fields=sum(s.fields for s in shapes),
        aliases=sum(s.aliases for s in shapes),
        fragments=len(walker.fragments),
        spreads=spreads,
        introspection=any(s.introspection for s in shapes),
    )


def quantiles(values: np.ndarray, weights: np.ndarray | None = None, qs: tuple[float, ...] = QUANTILES) -> tuple[float, ...]:
    """Quantiles of `values`, each counted `weights` times (e.g. requests per distinct document).

    The inverse of the empirical CDF: every quantile is a value that occurred, and a higher
    probability never gives a lower value.
    """
    if values.size == 0:
        return tuple(float("nan") for _ in qs)
    w = np.ones(values.size) if weights is None else weights.astype(float)
    return tuple(float(q) for q in np.quantile(values.astype(float), qs, weights=w, method="inverted_cdf"))
