"""The ``UserStore`` contract, held against every implementation (SQLite and Redis).

What the server and the CLI rely on: names are unique and checked, passwords are kept only as
argon2id hashes, tokens only as their SHA-256, a removed user's tokens die with them, expiry is
judged against the caller's clock, bad input changes nothing, and a second store opened on the
same storage (another web node, or the CLI) sees every change at once.
"""

from __future__ import annotations

import pytest

from tk9.accounts.store import TOKEN_PREFIX, User, UserNotFound, UserStore, token_digest
from tk9.errors import Conflict, InvalidInput

from .conftest import StoreCase

PASSWORD = "correct horse battery"


def test_users_are_added_listed_by_name_and_unique(store: UserStore) -> None:
    assert store.list_users() == []
    assert store.add_user("carol", PASSWORD) == User("carol", False)
    assert store.add_user("alice", PASSWORD, admin=True) == User("alice", True)
    with pytest.raises(Conflict, match="already exists"):
        store.add_user("alice", "another password", admin=False)
    assert store.list_users() == [User("alice", True), User("carol", False)]
    # the refused duplicate changed nothing: the first password and the admin flag stand
    assert store.verify_password("alice", PASSWORD) == User("alice", True)
    assert store.verify_password("alice", "another password") is None


@pytest.mark.parametrize(
    ("name", "password"),
    [("Bad Name", PASSWORD), ("-dash", PASSWORD), ("a" * 65, PASSWORD), ("bob", "short")],
)
def test_bad_names_and_passwords_are_refused_and_add_nothing(
    store: UserStore, name: str, password: str
) -> None:
    with pytest.raises(InvalidInput):
        store.add_user(name, password)
    assert store.list_users() == []


@pytest.mark.parametrize(
    ("name", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", ""), ("alice", "x" * 5000)],
)
def test_wrong_credentials_do_not_verify(store: UserStore, name: str, password: str) -> None:
    store.add_user("alice", PASSWORD)
    assert store.verify_password(name, password) is None


def test_only_argon2id_hashes_and_token_digests_are_stored(
    store: UserStore, store_case: StoreCase
) -> None:
    store.add_user("alice", PASSWORD)
    token = store.create_token("alice")
    stored = store_case.dump()
    assert "$argon2id$" in stored
    assert PASSWORD not in stored
    assert token not in stored and token[len(TOKEN_PREFIX) :] not in stored
    assert token_digest(token) in stored


def test_tokens_sign_in_until_revoked(store: UserStore) -> None:
    store.add_user("alice", PASSWORD, admin=True)
    token = store.create_token("alice")
    assert token.startswith(TOKEN_PREFIX) and len(token) >= 40
    assert token != store.create_token("alice")
    assert store.user_for_token(token, now=1e12) == User("alice", True)  # api: no expiry
    assert store.revoke_token(token) is True
    assert store.user_for_token(token, now=0) is None
    assert store.revoke_token(token) is False


def test_a_token_for_a_missing_user_is_refused(store: UserStore) -> None:
    with pytest.raises(UserNotFound):
        store.create_token("nobody")
    store.add_user("alice", PASSWORD)
    store.remove_user("alice")
    with pytest.raises(UserNotFound):
        store.create_token("alice", "cookie", expires_at=10.0)


@pytest.mark.parametrize("token", ["", "tk9_", "nope", "tk9_" + "a" * 200, "x" * 10_000])
def test_malformed_or_unknown_tokens_sign_in_nobody(store: UserStore, token: str) -> None:
    store.add_user("alice", PASSWORD)
    store.create_token("alice")
    assert store.user_for_token(token, now=0) is None
    assert store.revoke_token(token) is False


def test_login_tokens_expire_by_the_callers_clock(store: UserStore) -> None:
    store.add_user("alice", PASSWORD)
    cookie = store.create_token("alice", "cookie", expires_at=100.0)
    assert store.user_for_token(cookie, now=99.0) == User("alice", False)
    assert store.user_for_token(cookie, now=100.0) is None
    assert store.user_for_token(cookie, now=99.5) is not None  # expiry is a check, not a purge


def test_removing_a_user_revokes_their_tokens_for_good(store: UserStore) -> None:
    store.add_user("alice", PASSWORD)
    store.add_user("bob", PASSWORD)
    api = store.create_token("alice")
    cookie = store.create_token("alice", "cookie", expires_at=1e12)
    bobs = store.create_token("bob")
    store.remove_user("alice")
    assert store.list_users() == [User("bob", False)]
    assert store.user_for_token(api, now=0) is None
    assert store.user_for_token(cookie, now=0) is None
    assert store.user_for_token(bobs, now=0) == User("bob", False)
    with pytest.raises(UserNotFound):
        store.remove_user("alice")
    # the same name added again does not bring the old tokens or password back
    store.add_user("alice", "a new password", admin=True)
    assert store.user_for_token(api, now=0) is None
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("alice", "a new password") == User("alice", True)


def test_a_second_store_on_the_same_storage_sees_every_change(store_case: StoreCase) -> None:
    node_a, node_b = store_case.make(), store_case.make()
    try:
        node_a.add_user("alice", PASSWORD)
        assert node_b.list_users() == [User("alice", False)]
        assert node_b.verify_password("alice", PASSWORD) == User("alice", False)
        token = node_b.create_token("alice", "cookie", expires_at=50.0)
        assert node_a.user_for_token(token, now=1.0) == User("alice", False)
        with pytest.raises(Conflict):
            node_b.add_user("alice", PASSWORD)
        assert node_a.revoke_token(token) is True
        assert node_b.user_for_token(token, now=1.0) is None
        node_b.remove_user("alice")
        assert node_a.list_users() == []
    finally:
        node_a.close()
        node_b.close()
