"""Shared building blocks of the knowledge-file schemas (pydantic)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string (surrounding spaces removed)."""


class Strict(BaseModel):
    """A frozen model that rejects unknown fields, so typos in YAML keys are reported.

    Its validators are built when something is first validated (`defer_build`), not at
    import: a knowledge base served from the cache is unpickled, never validated, so a
    start that finds the cache never pays for building them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
