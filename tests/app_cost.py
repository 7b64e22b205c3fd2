"""What a test app costs to make, made once per test process instead of once per test.

The suite makes a fresh app for nearly every test (``conftest.app_on``), and two costs of a fresh Flask app repeat
work whose result is the same for every app of the process:

- Jinja compiles each template to Python source and then to code the first time an app renders it (about 0.1 s
  for the pages of one test). ``TEMPLATES`` is a bytecode cache, in memory, that every test app shares: a
  template compiled once loads as code in the others. Jinja checks each cached template against its source file,
  so an edited template compiles again.
- werkzeug compiles a Python function per URL rule to build its URLs (``url_for``): about 60 ms per app for this
  app's rules. ``share_url_builders`` keeps each builder by everything it is made of (the rule, its host or
  subdomain, its parsed parts, its defaults, the converters), so an identical rule in another app reuses it. The
  builder reads everything else from the rule it is bound to, as werkzeug's own does.

Neither changes what an app does: the pages and URLs are those a fresh app makes (every test of the suite checks
them), only made once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.routing import Rule


class SharedTemplates(BytecodeCache):
    """Compiled templates kept in this process's memory, for every app that uses this cache."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` with the template's code when this process compiled it already."""
        found = self.compiled.get(bucket.key)
        if found is not None:
            bucket.bytecode_from_string(found)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep a template's code for the next app."""
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()

_Builder = Callable[..., tuple[str, str]]


def share_url_builders() -> None:
    """Make werkzeug compile each distinct URL rule's builder once per process (a no-op if it changed its API)."""
    original = getattr(Rule, "_compile_builder", None)
    if original is None or getattr(original, "shared", False):
        return
    builders: dict[tuple[Any, ...], _Builder] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> _Builder:
        key = _builder_key(self, append_unknown)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = original(self, append_unknown)
        return builder

    compile_builder.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


def _builder_key(rule: Rule, append_unknown: bool) -> tuple[Any, ...]:
    """Return everything a rule's URL builder is made of."""
    url_map = rule.map
    domain = (rule.host if url_map.host_matching else rule.subdomain) if url_map is not None else None
    defaults = tuple(sorted((name, repr(value)) for name, value in (rule.defaults or {}).items()))
    converters = tuple(sorted((name, _converter_key(converter)) for name, converter in rule._converters.items()))
    return (rule.rule, domain, rule.merge_slashes, tuple(rule._trace), defaults, converters, append_unknown)


def _converter_key(converter: Any) -> tuple[Any, ...]:
    """Return a converter's type and settings (not the map it belongs to)."""
    settings = sorted((name, repr(value)) for name, value in vars(converter).items() if name != "map")
    return (type(converter), tuple(settings))
