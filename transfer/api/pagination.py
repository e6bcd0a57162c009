"""limit/offset paging shared by list routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from transfer.api.schemas import Page

T = TypeVar("T", bound=BaseModel)
MAX_OFFSET = 10**9


class PageParams(BaseModel):
    limit: int
    offset: int


def _page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 100,
    # Bounded: an offset beyond a 64-bit integer reached the database as an OverflowError.
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_page_params)]


def page_of(rows: Sequence[T], params: PageParams) -> Page[T]:
    """A page from ``limit + 1`` fetched rows (the extra one says whether more exist)."""
    more = len(rows) > params.limit
    return Page[T](
        items=list(rows[: params.limit]),
        limit=params.limit,
        offset=params.offset,
        next_offset=params.offset + params.limit if more else None,
    )
