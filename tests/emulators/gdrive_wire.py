"""Wire-format pieces of the Drive v3 emulator: error bodies, `fields`, `q`, page tokens.

Everything here follows the public Drive v3 reference and the discovery document that
google-api-python-client bundles (its `schemas` say which fields exist).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from googleapiclient.discovery_cache import get_static_doc

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """An error the emulator answers with Google's JSON error body."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
        }
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [item],
                "status": STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }


def not_found(file_id: str) -> ApiError:
    return ApiError(404, f"File not found: {file_id}.", "notFound", location="fileId")


def invalid_value(location: str, message: str = "Invalid Value") -> ApiError:
    return ApiError(400, message, "invalid", location=location)


def insufficient_file_permissions() -> ApiError:
    return ApiError(
        403,
        "The user does not have sufficient permissions for this file.",
        "insufficientFilePermissions",
    )


def insufficient_scopes() -> ApiError:
    return ApiError(
        403, "Request had insufficient authentication scopes.", "insufficientPermissions"
    )


def auth_error() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
        "authError",
        location="Authorization",
        location_type="header",
    )


def rate_limited(code: int, retry_after: float | None = None) -> ApiError:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
    if code == 429:
        return ApiError(
            429, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits", headers=headers
        )
    if code == 403:
        return ApiError(
            403,
            "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.",
            "userRateLimitExceeded",
            domain="usageLimits",
            headers=headers,
        )
    if code == 500:
        return ApiError(500, "Internal Error", "internalError", headers=headers)
    return ApiError(code, "The service is currently unavailable.", "backendError", headers=headers)


# ----------------------------------------------------------------------------- schemas


class Schemas:
    """Which properties each resource has, read from a discovery document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.schemas: dict[str, dict[str, Any]] = doc["schemas"]

    def child(self, node: dict[str, Any] | None, name: str) -> dict[str, Any] | None | bool:
        """The schema node of property `name` under `node`; False when it does not exist."""
        if node is None:  # free-form object (additionalProperties): anything goes
            return None
        node = self.resolve(node)
        if node.get("type") == "array":
            node = self.resolve(node["items"])
        props = node.get("properties")
        if props is None:
            return None if node.get("additionalProperties") is not None else False
        if name not in props:
            return False
        return props[name]

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.schemas[node["$ref"]]
        return node


_SCHEMAS: dict[str, Schemas] = {}


def schemas_for(api: str, version: str) -> Schemas:
    key = f"{api}/{version}"
    if key not in _SCHEMAS:
        _SCHEMAS[key] = Schemas(json.loads(get_static_doc(api, version)))
    return _SCHEMAS[key]


# ----------------------------------------------------------------------------- fields

Selector = dict[str, Any]  # name -> Selector (sub-selection) or None (whole value); "*" allowed


def parse_fields(text: str) -> Selector:
    """Parse the `fields` partial-response syntax: `a,b/c,d(e,f(g))`, `*`."""
    pos = 0
    text = text.strip()

    def fail() -> ApiError:
        return ApiError(
            400, f"Invalid field selection {text}", "invalidParameter", location="fields"
        )

    def parse_list(depth: int) -> Selector:
        nonlocal pos
        out: Selector = {}
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            m = re.compile(r"[A-Za-z0-9_*$.]+(?:/[A-Za-z0-9_*$.]+)*").match(text, pos)
            if not m:
                raise fail()
            path = m.group(0).split("/")
            pos = m.end()
            while pos < len(text) and text[pos] == " ":
                pos += 1
            sub: Selector | None = None
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = parse_list(depth + 1)
                if pos >= len(text) or text[pos] != ")":
                    raise fail()
                pos += 1
            _merge(out, path, sub)
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if depth > 0 and pos < len(text) and text[pos] == ")":
                return out
            if depth == 0 and pos == len(text):
                return out
            raise fail()

    if not text:
        raise fail()
    return parse_list(0)


def _merge(out: Selector, path: list[str], sub: Selector | None) -> None:
    head, rest = path[0], path[1:]
    if rest:
        existing = out.get(head, {})
        if existing is None:  # already whole
            return
        out[head] = existing
        _merge(existing, rest, sub)
        return
    if head in out and out[head] is not None and sub is not None:
        for k, v in sub.items():
            _merge(out[head], [k], v)
    else:
        out[head] = sub if head not in out or out[head] is not None else None


def validate_fields(selector: Selector, schemas: Schemas, root: str) -> None:
    """Raise 400 invalidParameter for a selected field the resource does not have."""

    def walk(sel: Selector, node: dict[str, Any] | None, prefix: str) -> None:
        for name, sub in sel.items():
            if name == "*":
                continue
            child = schemas.child(node, name)
            if child is False:
                where = f"{prefix}{name}"
                raise ApiError(
                    400, f"Invalid field selection {where}", "invalidParameter", location="fields"
                )
            if sub:
                walk(sub, child if isinstance(child, dict) else None, f"{prefix}{name}/")

    walk(selector, schemas.schemas[root], "")


def project(value: Any, selector: Selector | None) -> Any:
    """Keep only the selected parts of a response (arrays are projected element-wise)."""
    if selector is None:
        return value
    if isinstance(value, list):
        return [project(v, selector) for v in value]
    if not isinstance(value, dict):
        return value
    if "*" in selector and len(selector) == 1 and selector["*"] is None:
        return value
    out: dict[str, Any] = {}
    for name, sub in selector.items():
        if name == "*":
            for k, v in value.items():
                if k not in selector:
                    out[k] = project(v, sub)
            continue
        if name in value:
            out[name] = project(value[name], sub)
    return out


# ----------------------------------------------------------------------------- q


@dataclass
class Term:
    kind: str  # "cmp" | "in" | "has" | "and" | "or" | "not"
    field: str = ""
    op: str = ""
    value: Any = None
    children: list[Term] = dc_field(default_factory=list)


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|<=|>=|=|<|>)|(?P<lp>\()|(?P<rp>\))|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<num>-?\d+))"
)


def parse_q(text: str) -> Term:
    """Parse the subset of the Drive search language the project's clients use (and a bit more)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise invalid_value("q")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append((kind, raw))
    i = 0

    def peek() -> tuple[str, str] | None:
        return tokens[i] if i < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise invalid_value("q")
        i += 1
        return tokens[i - 1]

    def is_word(tok: tuple[str, str] | None, *words: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def expr() -> Term:
        left = conj()
        while is_word(peek(), "or"):
            take()
            left = Term("or", children=[left, conj()])
        return left

    def conj() -> Term:
        left = unary()
        while is_word(peek(), "and"):
            take()
            left = Term("and", children=[left, unary()])
        return left

    def unary() -> Term:
        tok = peek()
        if is_word(tok, "not"):
            take()
            return Term("not", children=[unary()])
        if tok and tok[0] == "lp":
            take()
            inner = expr()
            if take()[0] != "rp":
                raise invalid_value("q")
            return inner
        return atom()

    def value_of(tok: tuple[str, str]) -> Any:
        if tok[0] == "str":
            return tok[1]
        if tok[0] == "num":
            return int(tok[1])
        if tok[0] == "word" and tok[1].lower() in ("true", "false"):
            return tok[1].lower() == "true"
        raise invalid_value("q")

    def atom() -> Term:
        first = take()
        if first[0] == "str":  # 'value' in collection
            if not is_word(take(), "in"):
                raise invalid_value("q")
            coll = take()
            if coll[0] != "word" or coll[1] not in ("parents", "owners", "writers", "readers"):
                raise invalid_value("q")
            return Term("in", field=coll[1], value=first[1])
        if first[0] != "word":
            raise invalid_value("q")
        name = first[1]
        op_tok = take()
        if op_tok[0] == "op":
            op = op_tok[1]
        elif is_word(op_tok, "contains"):
            op = "contains"
        elif is_word(op_tok, "has"):
            return Term("has", field=name, value=take()[1])
        else:
            raise invalid_value("q")
        return Term("cmp", field=name, op=op, value=value_of(take()))

    if not tokens:
        raise invalid_value("q")
    term = expr()
    if i != len(tokens):
        raise invalid_value("q")
    _check_terms(term)
    return term


_Q_FIELDS = {
    "name": str,
    "fullText": str,
    "mimeType": str,
    "modifiedTime": str,
    "viewedByMeTime": str,
    "createdTime": str,
    "trashed": bool,
    "starred": bool,
    "sharedWithMe": bool,
    "hidden": bool,
}


def _check_terms(term: Term) -> None:
    if term.kind in ("and", "or", "not"):
        for c in term.children:
            _check_terms(c)
        return
    if term.kind == "cmp":
        kind = _Q_FIELDS.get(term.field)
        if kind is None or not isinstance(term.value, kind):
            raise invalid_value("q")
        if kind is bool and term.op not in ("=", "!="):
            raise invalid_value("q")
        if term.field in ("name", "mimeType") and term.op not in ("=", "!=", "contains"):
            raise invalid_value("q")
        if term.field == "fullText" and term.op != "contains":
            raise invalid_value("q")
    if term.kind == "has":
        raise invalid_value("q")  # properties/appProperties: not modelled


def evaluate(term: Term, get: Any) -> bool:
    """Evaluate a parsed query; `get(field)` returns a file's value, `get(('in', coll))` a set."""
    if term.kind == "and":
        return all(evaluate(c, get) for c in term.children)
    if term.kind == "or":
        return any(evaluate(c, get) for c in term.children)
    if term.kind == "not":
        return not evaluate(term.children[0], get)
    if term.kind == "in":
        return term.value in get(("in", term.field))
    actual = get(term.field)
    want = term.value
    if term.op == "contains":
        if actual is None:
            return False
        if term.field == "name":
            return actual.lower().startswith(want.lower()) or f" {want.lower()}" in actual.lower()
        return want.lower() in actual.lower()
    if term.op == "=":
        return actual == want
    if term.op == "!=":
        return actual != want
    if actual is None:
        return False
    return {"<": actual < want, "<=": actual <= want, ">": actual > want, ">=": actual >= want}[
        term.op
    ]


# ----------------------------------------------------------------------------- page tokens


def make_page_token(position: Any, query_key: str) -> str:
    """An opaque token: the cursor plus a digest of the query it belongs to."""
    raw = json.dumps({"p": position, "k": query_key[:16]}).encode()
    return "~!!~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page_token(token: str, query_key: str) -> Any:
    try:
        if not token.startswith("~!!~"):
            raise ValueError
        body = token[4:]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if data["k"] != query_key[:16]:
            raise ValueError
        return data["p"]
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid_value("pageToken") from exc


def query_key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
