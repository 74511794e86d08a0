from __future__ import annotations

import itertools

import pytest

from coresweep.experiments.backends import split_evenly


@pytest.mark.parametrize(
    "items,parts", list(itertools.product([0, 1, 2, 3, 5, 7, 8, 64, 65], [1, 2, 3, 4, 8, 16]))
)
def test_chunks_cover_every_item_once_in_order(items: int, parts: int) -> None:
    data = list(range(items))
    chunks = split_evenly(data, parts)
    flat = [x for _, chunk in chunks for x in chunk]
    assert flat == data
    assert all(chunk for _, chunk in chunks), "no empty chunk"
    assert len(chunks) == min(parts, items)
    sizes = [len(c) for _, c in chunks]
    if sizes:
        assert max(sizes) - min(sizes) <= 1
    for start, chunk in chunks:
        assert data[start : start + len(chunk)] == chunk


def test_fewer_items_than_workers_gives_one_item_per_chunk() -> None:
    # The classic tutorial's `step = total // workers` is 0 here and loses every item.
    assert split_evenly([10, 11], 4) == [(0, [10]), (1, [11])]


def test_remainder_goes_to_the_first_chunks() -> None:
    assert [len(c) for _, c in split_evenly(list(range(10)), 4)] == [3, 3, 2, 2]


def test_parts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_evenly([1], 0)
