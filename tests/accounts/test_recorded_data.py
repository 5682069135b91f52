"""What recorded data hangs on a goal, an agent or a variation, without importing its apps."""

import pytest
from django.core.exceptions import ValidationError

from accounts.recorded_data import RecordedData, recorded_data_count, recorded_data_refuse


def test_recorded_data__counts_each_kind_pointing_at_the_object(api, agent, express_target):
    api.data(express_target, [{"a": "a-hero"}, {"g": "g-purchase"}], session="one")
    api.data(express_target, [{"a": "a-hero"}], session="two")
    goal = agent.goals.get()
    # the two sessions get two variations: a visitor day of each, and one goal day
    assert {a.variation_id for a in agent.assignments.all()} == set(
        agent.variations.values_list("pk", flat=True)
    )
    assert recorded_data_count(obj=agent) == RecordedData(assignments=2, credits=1, report_rows=3)
    assert recorded_data_count(obj=goal) == RecordedData(goal_events=1, credits=1, report_rows=1)


def test_recorded_data__only_the_kinds_asked_for(api, agent, express_target):
    api.data(express_target, [{"a": "a-hero"}], session="one")
    seen = agent.assignments.get().variation
    assert recorded_data_count(obj=seen, kinds=["assignments"]) == RecordedData(assignments=1)


def test_recorded_data__refused_names_the_object_and_what_it_holds(api, agent, express_target):
    api.data(express_target, [{"a": "a-hero"}, {"g": "g-purchase"}])
    with pytest.raises(ValidationError) as refused:
        recorded_data_refuse(obj=agent.goals.get(), label="Goal g-purchase", force=False)
    assert refused.value.code == "has_recorded_data"
    assert refused.value.messages == [
        "Goal g-purchase has recorded data (1 goal events, 1 credits and 1 report rows); "
        "deleting it deletes them too. Delete with force=true to go ahead."
    ]
    forced = recorded_data_refuse(obj=agent.goals.get(), label="Goal g-purchase", force=True)
    assert forced.goal_events == 1


def test_recorded_data__none__is_empty_and_never_refused(agent):
    data = recorded_data_refuse(obj=agent, label="Agent a-hero", force=False)
    assert data.empty
    assert data.describe() == ""


def test_recorded_data__describe_lists_the_kinds_held_in_order():
    assert RecordedData(assignments=3).describe() == "3 assignments"
    assert RecordedData(assignments=3, report_rows=2).describe() == (
        "3 assignments and 2 report rows"
    )
    assert RecordedData(1, 2, 3, 4).describe() == (
        "1 assignments, 2 goal events, 3 credits and 4 report rows"
    )
