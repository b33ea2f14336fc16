"""The immutable records (``_frozen.Record``) that replaced attrs classes on ``import replayflow``'s path."""

from __future__ import annotations

import copy
import pickle
import weakref

import pytest

import replayflow
from replayflow import BatchItem, BatchItemStatus, BatchResult, CompletionReason, Duration, RetryPolicy
from replayflow._frozen import FrozenInstanceError, evolve
from replayflow._handler_options import HandlerOptions
from replayflow._serdes import JsonSerDes, dumps, user_converter


def test_fields_cannot_be_assigned_or_deleted():
    d = Duration(seconds=5)
    with pytest.raises(AttributeError):
        d.seconds = 6  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del d.seconds
    with pytest.raises(AttributeError):
        d.other = 1  # type: ignore[attr-defined]
    assert d.seconds == 5


def test_equality_hash_and_repr_go_by_fields_in_order():
    assert Duration(5) == Duration(seconds=5) and Duration(5) != Duration(6)
    assert hash(Duration(5)) == hash(Duration(5))
    assert Duration(5) != (5, 0, 0, 0)
    assert {Duration(1), Duration(1), Duration(2)} == {Duration(1), Duration(2)}
    assert repr(Duration(1, 2)) == "Duration(seconds=1, minutes=2, hours=0, days=0)"
    assert repr(replayflow.ParallelBranch(len)) == "ParallelBranch(fn=<built-in function len>, name=None)"
    match Duration(1, 2):
        case Duration(seconds, minutes):
            assert (seconds, minutes) == (1, 2)


def test_keyword_only_options_stay_keyword_only():
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        HandlerOptions(None)  # type: ignore[misc]


def test_evolve_replaces_fields_and_validates_again():
    options = HandlerOptions(max_workers=4, plugins=[replayflow.Plugin()])
    changed = evolve(options, log_replay=True)
    assert changed.log_replay and changed.max_workers == 4 and changed.plugins == options.plugins
    assert isinstance(changed.plugins, tuple)
    with pytest.raises(replayflow.ValidationError, match="on_non_determinism"):
        evolve(options, on_non_determinism="ignore")


def test_records_copy_pickle_and_take_weak_references():
    policy = RetryPolicy(max_attempts=2, retry_on=[ValueError], retry_on_message=["boom"])
    assert weakref.ref(policy)() is policy
    for clone in (copy.copy(policy), copy.deepcopy(policy), pickle.loads(pickle.dumps(policy))):
        assert clone == policy
        assert clone.retry_on_message[0].pattern == "boom"


def test_cattrs_unstructures_and_structures_records_as_it_did_attrs_classes():
    result = BatchResult([BatchItem(0, BatchItemStatus.SUCCEEDED, Duration(2), name="a")])
    assert user_converter().unstructure(Duration(2)) == {"seconds": 2, "minutes": 0, "hours": 0, "days": 0}
    text = dumps(result)
    assert '"completion_reason":"ALL_COMPLETED"' in text
    back = JsonSerDes(BatchResult[Duration]).deserialize(text)
    assert back == result and type(back.all[0].result) is Duration
    assert back.completion_reason is CompletionReason.ALL_COMPLETED
    assert JsonSerDes(Duration).deserialize('{"minutes": 1}') == Duration(minutes=1)


def test_replace_is_evolve_so_copy_replace_works_on_3_13():
    from replayflow import RetryPolicy

    policy = RetryPolicy(max_attempts=3)
    changed = policy.__replace__(max_attempts=5)  # what copy.replace(policy, max_attempts=5) calls
    assert changed.max_attempts == 5 and policy.max_attempts == 3
    assert changed == RetryPolicy(max_attempts=5)
    with pytest.raises(ValueError):
        policy.__replace__(max_attempts=0)  # validated again, as a new instance is
