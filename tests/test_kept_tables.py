"""Tables kept between training runs (teacher targets, piece tables, score tables): reused only
for what they were computed from, written whole or not at all, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.neural.training import file_digest, load_kept, save_kept


def test_a_kept_table_is_reused_only_under_its_own_key(tmp_path):
    path = tmp_path / "targets.npz"
    assert load_kept(path, "teacher A") is None  # nothing kept yet
    table = {"logits": np.arange(6, dtype=np.float32).reshape(3, 2), "items": np.array([4, 5, 6])}
    save_kept(path, "teacher A", table)
    kept = load_kept(path, "teacher A")
    assert sorted(kept) == ["items", "logits"]
    np.testing.assert_array_equal(kept["logits"], table["logits"])
    assert load_kept(path, "teacher B") is None, "another teacher's table must be computed again"
    assert [p.name for p in tmp_path.iterdir()] == ["targets.npz"], "no temporary file is left behind"
    with pytest.raises(ValueError, match="key"):
        save_kept(path, "teacher A", {"key": np.zeros(1)})
    np.testing.assert_array_equal(load_kept(path, "teacher A")["items"], table["items"])  # unchanged by the refusal


def test_a_table_holding_objects_is_not_unpickled(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, key=np.array("k"), rows=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_kept(path, "k")


def test_the_digest_follows_the_file_contents(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"weights" * 1000)
    b.write_bytes(b"weights" * 1000)
    assert file_digest(a) == file_digest(b) and len(file_digest(a)) == 64
    b.write_bytes(b"weights" * 999 + b"Weights")
    assert file_digest(a) != file_digest(b)
