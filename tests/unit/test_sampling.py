"""The samples of a run and each sample's deadline: pure time arithmetic, no clock of their own."""

from __future__ import annotations

import datetime as dt

import pytest

from connect_exporter.connect import DeadlineReached
from connect_exporter.metrics import HIGH_RESOLUTION, STANDARD_RESOLUTION
from connect_exporter.sampling import Slot, slot_deadline, slot_resolution, slots

AT = dt.datetime(2026, 11, 24, 3, 46, tzinfo=dt.UTC)


@pytest.mark.parametrize(("seconds", "count"), [(10, 6), (15, 4), (20, 3), (30, 2)])
def test_a_minute_holds_evenly_spaced_samples_whose_slots_tile_it(seconds, count):
    planned = slots(AT, 60, seconds)
    assert [s.at for s in planned] == [AT + dt.timedelta(seconds=k * seconds) for k in range(count)]
    assert [s.end for s in planned] == [s.at + dt.timedelta(seconds=seconds) for s in planned]
    assert planned[-1].end == AT + dt.timedelta(minutes=1)  # where the next run begins
    assert {s.seconds for s in planned} == {seconds}  # what each sample's records stand for


@pytest.mark.parametrize("period", [60, 120, 300])
def test_a_minute_s_sampling_is_one_sample_a_run_bounded_by_the_lambda_alone_whatever_the_schedule(period):
    assert slots(AT, period, 60) == [Slot(AT, None, period)]


def test_a_sample_stops_paging_at_its_slot_end_or_the_lambda_deadline_whichever_is_first():
    slot = Slot(AT, AT + dt.timedelta(seconds=15), 15)
    now = AT + dt.timedelta(seconds=4)
    roomy = slot_deadline(slot, lambda: 50.0, 3.0, lambda: now)
    assert roomy.left() == pytest.approx(11.0)  # the slot's 11 s left, not the Lambda's 47
    assert roomy.write_seconds() == pytest.approx(11.0 + 3.0 - 1.0)  # the write may use the reserve, less its margin
    tight = slot_deadline(slot, lambda: 6.0, 3.0, lambda: now)
    assert tight.left() == pytest.approx(3.0)  # the Lambda ends first
    late = slot_deadline(slot, lambda: 50.0, 3.0, lambda: AT + dt.timedelta(seconds=15))
    with pytest.raises(DeadlineReached):
        late.check()


def test_only_sampling_below_a_minute_stores_slots_at_high_resolution():
    assert [slot_resolution(s) for s in (10, 15, 20, 30, 60)] == [HIGH_RESOLUTION] * 4 + [STANDARD_RESOLUTION]
