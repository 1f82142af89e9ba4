"""The SQLite log's in-memory mirror, as pure functions: pages from the tail cache, heads
merged after another process committed."""

from __future__ import annotations

from tk9.log.sqlite_mirror import Head, HeadRow, head_of, merge_heads, tail_page


def cached(first_seq: int, last_seq: int, cached: int, size: int = 8) -> Head:
    """A head whose tail cache holds the newest ``cached`` entries (texts ``"e<seq>"``)."""
    head = head_of(("s", "ep", 1.0, first_seq, last_seq, "{}"), size)
    head.tail.extend(f"e{seq}" for seq in range(last_seq - cached + 1, last_seq + 1))
    return head


def test_a_cursor_at_the_head_gets_an_empty_page_without_a_query() -> None:
    assert tail_page(cached(1, 10, 4), 10, 100) == (11, "ep", [])
    assert tail_page(cached(1, 10, 0), 12, 100) == (13, "ep", [])


def test_a_cursor_inside_the_cache_is_served_from_it_up_to_the_limit() -> None:
    head = cached(1, 10, 4)
    assert tail_page(head, 7, 100) == (8, "ep", ["e8", "e9", "e10"])
    assert tail_page(head, 6, 2) == (7, "ep", ["e7", "e8"])


def test_a_cursor_older_than_the_cache_needs_the_database() -> None:
    assert tail_page(cached(1, 10, 4), 3, 100) is None
    assert tail_page(cached(1, 10, 0), 9, 100) is None


def test_a_cache_holding_every_readable_entry_serves_any_older_cursor() -> None:
    # a young or trimmed session: nothing before first_seq can be read, so no query
    assert tail_page(cached(7, 10, 4), 0, 100) == (7, "ep", ["e7", "e8", "e9", "e10"])


def row(sid: str, epoch: str = "ep", first: int = 1, last: int = 0, meta: str = "{}") -> HeadRow:
    return (sid, epoch, 1.0, first, last, meta)


def test_merging_adds_grows_replaces_and_drops_streams() -> None:
    heads = {
        "same": head_of(row("same", last=3), 8),
        "grown": cached(1, 5, 5),
        "recreated": head_of(row("recreated", last=9), 8),
        "gone": head_of(row("gone"), 8),
    }
    rows = [
        row("same", last=3, meta='{"status": "running"}'),
        row("grown", last=7),
        row("recreated", epoch="new"),
        row("new", last=2),
    ]
    changed = merge_heads(heads, rows, 8)
    assert sorted(changed) == ["gone", "grown", "new", "recreated"]
    assert set(heads) == {"same", "grown", "recreated", "new"}
    assert heads["same"].meta == {"status": "running"} and heads["same"].last_seq == 3
    # another process's entries are not in this cache: it is dropped, not left with a hole
    assert heads["grown"].last_seq == 7 and not heads["grown"].tail
    assert heads["recreated"].epoch == "new" and heads["recreated"].last_seq == 0
    assert heads["new"].last_seq == 2 and heads["new"].tail.maxlen == 8


def test_merging_an_unchanged_database_wakes_nobody() -> None:
    heads = {"s": cached(1, 5, 5)}
    assert merge_heads(heads, [row("s", last=5)], 8) == []
    assert list(heads["s"].tail) == ["e1", "e2", "e3", "e4", "e5"]
