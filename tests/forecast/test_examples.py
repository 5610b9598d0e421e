"""The Examples sections of features/ and forecast/ docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tsmon.features
import tsmon.forecast

MODULES = [
    f"{package.__name__}.{info.name}"
    for package in (tsmon.features, tsmon.forecast)
    for info in pkgutil.iter_modules(package.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
