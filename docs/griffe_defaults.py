"""Griffe extension for the API reference: defaults of grouped parameters, Sphinx roles.

A NumPy docstring may document several parameters in one entry (``sigma, tau, gamma :
float``). Griffe 2.4 then shows the signature default of the *first* name for every name
of the group (``gamma``'s default would read ``3.0``, ``sigma``'s). This extension makes
each documented parameter's default the one of the signature, so the reference tables show
what the code does. The docstrings also name objects with Sphinx roles
(``:func:`generate```), which Markdown would print as they stand; they become code spans.
It is loaded by ``mkdocs.yml`` only: pdeml never imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|exc|obj):`~?([^`]+)`")
_PARAMETER_SECTIONS = (
    griffe.DocstringSectionKind.parameters,
    griffe.DocstringSectionKind.other_parameters,
)


class _SignatureDefaultsDocstring(griffe.Docstring):
    """A docstring whose parsed parameters take their defaults from the signature.

    The fix is applied when a docstring is parsed, that is, only for the objects a page
    renders: parsing every docstring up front would also report problems in docstrings the
    site never shows.
    """

    def parse(self, parser: Any = None, **options: Any) -> list[griffe.DocstringSection]:
        sections = super().parse(parser, **options)
        try:
            signature = self.parent.parameters  # type: ignore[union-attr]
        except (AttributeError, KeyError):  # no parent, or a class without a known __init__
            return sections
        for section in sections:
            if section.kind in _PARAMETER_SECTIONS:
                for parameter in section.value:
                    if parameter.name in signature:
                        parameter.value = signature[parameter.name].default
        return sections


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """Every non-alias object under ``obj``, ``obj`` included."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


class SignatureDefaults(griffe.Extension):
    """Take the defaults of documented parameters from the signature, not the docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is None:
                continue
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
            if obj.is_function or obj.is_class:
                obj.docstring.__class__ = _SignatureDefaultsDocstring
