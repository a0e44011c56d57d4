"""engine.pytrees: dataclass pytrees and the tree utilities."""

from __future__ import annotations

import numpy as np

from xlens import engine


@engine.pytree_dataclass(meta=("name",))
class _Pair:
    a: object
    b: object
    name: str = "pair"


def test_data_fields_leave_out_meta_fields():
    p = _Pair(np.ones(2), np.zeros(3))
    assert [f.name for f in engine.data_fields(p)] == ["a", "b"]
    assert [np.shape(x) for x in engine.tree_leaves(p)] == [(2,), (3,)]


def test_tree_map_keeps_meta_and_type():
    p = engine.tree_map(lambda x: x + 1, _Pair(np.ones(2), np.zeros(3), name="q"))
    assert isinstance(p, _Pair) and p.name == "q"
    np.testing.assert_array_equal(p.b, np.ones(3))


def test_tree_stack_and_signature():
    items = [_Pair(np.full(2, float(i)), np.zeros(3)) for i in range(4)]
    stacked = engine.tree_stack(items)
    assert stacked.a.shape == (4, 2) and stacked.name == "pair"
    assert engine.tree_signature(items[0]) == engine.tree_signature(items[1])
    assert engine.tree_signature(items[0]) != engine.tree_signature(_Pair(np.ones(3), np.zeros(3)))
    assert engine.tree_signature(items[0]) != engine.tree_signature(_Pair(np.ones(2), np.zeros(3), name="q"))
