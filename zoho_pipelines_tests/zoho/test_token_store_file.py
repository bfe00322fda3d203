"""The file token store on its own: compare-and-swap, permissions, what the file may hold."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from zoho_pipelines.zoho.token_store import MemoryTokenStore, TokenKey, TokenRecord
from zoho_pipelines.zoho.token_store_file import FileTokenStore

REFRESH = "1000.file-store-refresh-token-5e6f"
KEY = TokenKey.of("https://accounts.zoho.eu/", "1000.FILECLIENT", REFRESH)


def test_a_swap_needs_the_version_it_read(tmp_path: Path) -> None:
    for store in (FileTokenStore(tmp_path / "tokens"), MemoryTokenStore()):
        assert store.load(KEY) == TokenRecord()
        assert store.swap(KEY, 0, TokenRecord(access_token="1000.a", expires_at=5.0))
        assert not store.swap(KEY, 0, TokenRecord(access_token="1000.b"))
        first = store.load(KEY)
        assert (first.version, first.access_token, first.expires_at) == (1, "1000.a", 5.0)
        changed = first.replace(
            lease_owner="host:1:x", lease_until=9.0, mints=(1.0, 2.0), refused_when_fresh=True
        )
        assert store.swap(KEY, 1, changed)
        second = store.load(KEY)
        assert (second.version, second.lease_owner, second.mints) == (2, "host:1:x", (1.0, 2.0))
        assert second.refused_when_fresh


def test_concurrent_swaps_from_one_version_let_exactly_one_win(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    barrier = threading.Barrier(16)
    wins: list[int] = []

    def attempt(index: int) -> None:
        other = FileTokenStore(tmp_path)  # its own instance, as another process would have
        barrier.wait(timeout=30)
        if other.swap(KEY, 0, TokenRecord(access_token=f"1000.t{index}")):
            wins.append(index)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(wins) == 1
    assert store.load(KEY).access_token == f"1000.t{wins[0]}"


def test_files_are_private_and_hold_no_refresh_token(tmp_path: Path) -> None:
    directory = tmp_path / "home" / "zoho-tokens"
    store = FileTokenStore(directory)
    store.swap(KEY, 0, TokenRecord(access_token="1000.live-access-token", expires_at=1.0))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert REFRESH not in path.name
        assert REFRESH not in path.read_text(encoding="utf-8")
    assert REFRESH not in KEY.name
    assert sorted(path.name for path in directory.iterdir()) == [f"{KEY.digest}.json", f"{KEY.digest}.lock"]


def test_an_unreadable_record_counts_as_absent_and_is_rewritten(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    store.swap(KEY, 0, TokenRecord(access_token="1000.a"))
    store.path_for(KEY).write_text("{not json", encoding="utf-8")  # e.g. emptied by a power cut
    assert store.load(KEY) == TokenRecord()
    assert store.swap(KEY, 0, TokenRecord(access_token="1000.b"))
    assert store.load(KEY).access_token == "1000.b"


def test_other_refresh_tokens_and_accounts_servers_get_their_own_records() -> None:
    rotated = TokenKey.of("https://accounts.zoho.eu", "1000.FILECLIENT", REFRESH + "-rotated")
    other_dc = TokenKey.of("https://accounts.zoho.com", "1000.FILECLIENT", REFRESH)
    assert len({KEY.digest, rotated.digest, other_dc.digest}) == 3
    assert TokenKey.of("https://accounts.zoho.eu", "1000.FILECLIENT", REFRESH) == KEY  # trailing slash
