"""The OData query options the sandbox understands: $select, $expand, $orderby and a
$filter compiled to a Python predicate (eq ne gt ge lt le, and, or, not, parentheses,
null, string/number/bool/GUID/date literals, contains/startswith/endswith, the list
membership lambda ``listcontact_association/any(m:m/listid eq <guid>)`` and
``Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b'])``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dynsync_tui.sandbox.metadata import LIST_NAVS, Entity


class QueryError(ValueError):
    """A 400 from the Web API; the message is the one Dataverse would give."""


Pred = Callable[[dict], bool]
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![\w-])
  | (?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)(?![\w:])
  | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),:\[\]=])
    )""",
    re.VERBOSE,
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"contains", "startswith", "endswith"}
_IN = "microsoft.dynamics.crm.in"


def _unquote(s: str) -> str:
    return s[1:-1].replace("''", "'")


def tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"Syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        return _unquote(raw)
    if kind == "guid":
        return raw.lower()
    if kind == "date":
        return raw if "T" in raw else raw + "T00:00:00Z"
    if kind == "num":
        return float(raw) if "." in raw else int(raw)
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _norm(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        return _norm(a) == _norm(b)
    if op == "ne":
        return _norm(a) != _norm(b)
    if a is None or b is None or isinstance(a, str) != isinstance(b, str):
        return False
    a, b = _norm(a), _norm(b)
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


class _Parser:
    def __init__(self, text: str, ent: Entity, members: Callable[[str, str], set[str]] | None):
        self.toks = tokenize(text)
        self.i = 0
        self.ent = ent
        self.cols = ent.selectable()
        self.types = {(f"_{n}_value" if t in ("Lookup", "Customer", "Owner") else n): t
                      for n, _d, t, _o, _r in ent.columns}
        self.members = members
        self.text = text

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "eof" or (value is not None and tok[1].lower() != value):
            want = f"'{value}'" if value else "more input"
            raise QueryError(f"Syntax error: expected {want} in $filter '{self.text}'.")
        self.i += 1
        return tok

    def parse(self) -> Pred:
        pred = self.or_expr()
        if self.peek()[0] != "eof":
            raise QueryError(f"Syntax error at '{self.peek()[1]}' in $filter '{self.text}'.")
        return pred

    def or_expr(self) -> Pred:
        parts = [self.and_expr()]
        while self.peek()[1].lower() == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r, ps=tuple(parts): any(p(r) for p in ps))

    def and_expr(self) -> Pred:
        parts = [self.unary()]
        while self.peek()[1].lower() == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda r, ps=tuple(parts): all(p(r) for p in ps))

    def unary(self) -> Pred:
        if self.peek()[1].lower() == "not":
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek()[1] == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        kind, raw = self.peek()
        if kind == "ident" and self.peek(1)[1] == "(":
            return self.call()
        return self.comparison()

    def column(self, name: str) -> str:
        if name not in self.cols:
            raise QueryError(
                f"Could not find a property named '{name}' on type "
                f"'Microsoft.Dynamics.CRM.{self.ent.logical}'."
            )
        return name

    def operand(self) -> tuple[str | None, Any]:
        kind, raw = self.take()
        if kind == "ident":
            lit = _literal(kind, raw)
            if lit is _NOT_LITERAL:
                return self.column(raw), None
            return None, lit
        if kind == "punct":
            raise QueryError(f"Syntax error at '{raw}' in $filter '{self.text}'.")
        return None, _literal(kind, raw)

    def comparison(self) -> Pred:
        left = self.operand()
        op = self.take()[1].lower()
        if op not in _OPS:
            raise QueryError(f"Unknown operator '{op}' in $filter '{self.text}'.")
        right = self.operand()
        (lc, lv), (rc, rv) = left, right
        for col, val in ((lc, rv), (rc, lv)):
            if col and (rc is None or lc is None):
                typ = self.types.get(col, "String")
                if typ in ("String", "Memo") and isinstance(val, (int, float, bool)):
                    raise QueryError(
                        "A binary operator with incompatible types was detected. Found operand "
                        f"types 'Edm.String' and 'Edm.{type(val).__name__}' for operator kind '{op}'."
                    )
        if lc and rc is None:
            return lambda r: _compare(op, r.get(lc), rv)
        if rc and lc is None:
            return lambda r: _compare(op, lv, r.get(rc))
        if lc and rc:
            return lambda r: _compare(op, r.get(lc), r.get(rc))
        const = _compare(op, lv, rv)
        return lambda r: const

    def call(self) -> Pred:
        name = self.take()[1]
        low = name.lower()
        self.take("(")
        if low in _FUNCS:
            col = self.column(self.take()[1])
            self.take(",")
            kind, raw = self.take()
            needle = str(_literal(kind, raw)).casefold()
            self.take(")")
            test = {"contains": str.__contains__, "startswith": str.startswith,
                    "endswith": str.endswith}[low]
            return lambda r: isinstance(v := r.get(col), str) and test(v.casefold(), needle)
        if low == _IN:
            return self.in_call()
        if "/" in name and name.split("/", 1)[1].lower() == "any":
            return self.any_call(name.split("/", 1)[0])
        raise QueryError(f"Unknown function '{name}' in $filter '{self.text}'.")

    def in_call(self) -> Pred:
        args: dict[str, Any] = {}
        while True:
            key = self.take()[1]
            self.take("=") if self.peek()[1] == "=" else None
            if self.peek()[1] == "[":
                self.take("[")
                vals = []
                while self.peek()[1] != "]":
                    kind, raw = self.take()
                    if kind != "punct":
                        vals.append(_norm(_literal(kind, raw)))
                self.take("]")
                args[key] = vals
            else:
                kind, raw = self.take()
                args[key] = _literal(kind, raw)
            if self.peek()[1] == ")":
                self.take()
                break
            self.take(",")
        prop = str(args.get("PropertyName", ""))
        col = prop if prop in self.cols else self.column(f"_{prop}_value")
        values = set(args.get("PropertyValues") or [])
        return lambda r: _norm(r.get(col)) in values

    def any_call(self, nav: str) -> Pred:
        target = LIST_NAVS.get(nav)
        if target != self.ent.logical or self.members is None:
            raise QueryError(
                f"Could not find a property named '{nav}' on type "
                f"'Microsoft.Dynamics.CRM.{self.ent.logical}'."
            )
        var = self.take()[1]
        self.take(":")
        attr = self.take()[1]
        if attr.lower() != f"{var}/listid".lower():
            raise QueryError(f"Only '{var}/listid eq <guid>' is supported inside any().")
        self.take("eq")
        kind, raw = self.take()
        list_id = str(_literal(kind, raw)).lower()
        self.take(")")
        ids = self.members(list_id, self.ent.logical)
        pk = self.ent.pk
        return lambda r: r.get(pk) in ids


def compile_filter(text: str, ent: Entity,
                   members: Callable[[str, str], set[str]] | None = None) -> Pred:
    """Compile a $filter expression for ``ent``; raises QueryError (a 400)."""
    return _Parser(text, ent, members).parse()


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_select(text: str | None, ent: Entity) -> list[str] | None:
    if not text:
        return None
    cols = ent.selectable()
    out = []
    for name in split_top(text):
        if name not in cols:
            raise QueryError(
                f"Could not find a property named '{name}' on type "
                f"'Microsoft.Dynamics.CRM.{ent.logical}'."
            )
        out.append(name)
    if ent.pk not in out:
        out.insert(0, ent.pk)
    return out


def parse_expand(text: str | None, ent: Entity, entities: dict[str, Entity]
                 ) -> list[tuple[str, str, Entity, list[str] | None]]:
    """→ [(nav, lookup key on the record, target entity, selected columns)]."""
    if not text:
        return []
    navs = ent.navs()
    out = []
    for item in split_top(text):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.S)
        if not m or m.group(1) not in navs:
            name = m.group(1) if m else item
            raise QueryError(
                f"Could not find a property named '{name}' on type "
                f"'Microsoft.Dynamics.CRM.{ent.logical}'."
            )
        attr, target = navs[m.group(1)]
        sel = None
        for opt in split_top(m.group(2) or "", ";"):
            key, _, val = opt.partition("=")
            if key.strip().lower() == "$select":
                sel = parse_select(val, entities[target])
            else:
                raise QueryError(f"Query option '{key.strip()}' is not supported inside $expand.")
        out.append((m.group(1), f"_{attr}_value", entities[target], sel))
    if len(out) > 15:
        raise QueryError("Number of expands in the query exceeds the maximum of 15.")
    return out


def parse_orderby(text: str | None, ent: Entity) -> list[tuple[str, bool]]:
    if not text:
        return []
    cols = ent.selectable()
    out = []
    for item in split_top(text):
        bits = item.split()
        if bits[0] not in cols or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby term '{item}' on type 'Microsoft.Dynamics.CRM.{ent.logical}'.")
        out.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return out
