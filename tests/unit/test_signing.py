from __future__ import annotations

from pathlib import Path

import pytest

from kesah import signing


def test_canonical_encoding_is_independent_of_key_order_and_keeps_unicode() -> None:
    assert signing.canonical({"b": 1, "a": "é"}) == signing.canonical({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()


def test_the_chain_hash_depends_on_the_previous_hash_and_the_body() -> None:
    one = signing.chain_hash(signing.GENESIS_HASH, {"x": 1})
    assert one != signing.chain_hash(signing.GENESIS_HASH, {"x": 2})
    assert one != signing.chain_hash("1" * 64, {"x": 1})
    assert len(one) == 64


def test_a_signature_verifies_only_with_the_owners_key() -> None:
    owner, stranger = signing.Signer.generate("intake"), signing.Signer.generate("intake")
    ring = signing.Keyring()
    ring.add("intake", owner.public_base64())
    digest = signing.chain_hash(signing.GENESIS_HASH, {"x": 1})
    assert ring.verify("intake", owner.key_id, digest, owner.sign(digest)) is None
    assert ring.verify("intake", stranger.key_id, digest, stranger.sign(digest)) == f"key {stranger.key_id} is not a key of intake"
    assert ring.verify("routing", owner.key_id, digest, owner.sign(digest)) is not None
    other = signing.chain_hash(signing.GENESIS_HASH, {"x": 2})
    assert ring.verify("intake", owner.key_id, other, owner.sign(digest)) == "signature does not match"
    assert ring.verify("intake", owner.key_id, digest, "bm90IGEgc2lnbmF0dXJl") == "signature does not match"


def test_key_files_are_created_once_and_private_keys_are_private(tmp_path: Path) -> None:
    assert signing.init_keys(tmp_path, ["intake", "routing"]) == ["intake", "routing"]
    assert signing.init_keys(tmp_path, ["intake", "routing"]) == []
    assert (tmp_path / "intake.key").stat().st_mode & 0o077 == 0
    signer = signing.load_signer(tmp_path, "intake")
    ring = signing.load_keyring(tmp_path, ["intake", "routing", "responses"])
    assert ring.services() == ["intake", "routing"]
    digest = "ab" * 32
    assert ring.verify("intake", signer.key_id, digest, signer.sign(digest)) is None


def test_a_key_from_the_environment_wins_and_a_missing_key_says_what_to_do(tmp_path: Path) -> None:
    env_key = signing.Signer.generate("routing").private_base64()
    assert signing.load_signer(tmp_path, "routing", env_key).private_base64() == env_key
    with pytest.raises(signing.KeyProblem, match="kesah keys init"):
        signing.load_signer(tmp_path, "routing")
    with pytest.raises(signing.KeyProblem):
        signing.Signer.from_base64("routing", "not base64!")
