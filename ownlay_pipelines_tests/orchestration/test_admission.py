"""Admission of initial backfills: bounded per tick and per platform, oldest workspace first."""

from datetime import date

from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.admission import BacklogEntry, admit
from ownlay_pipelines.orchestration.plan import SyncRequest, Window
from ownlay_pipelines.schema.platforms import Platform


def _plan(entry: BacklogEntry) -> list[SyncRequest]:
    """Three runs per platform for every workspace."""
    return [
        SyncRequest(
            entry.workspace_id,
            platform,
            Partitioning.WORKSPACE,
            (TableRef.of("raw", platform.value, f"t{n}"),),
            Window.INITIAL_BACKFILL,
        )
        for platform in (Platform.META_ADS, Platform.GOOGLE_ADS)
        for n in range(3)
    ]


def test_no_tick_admits_more_than_its_budget_and_the_rest_is_counted():
    backlog = [BacklogEntry(f"w{n:03d}", date(2026, 11, 20)) for n in range(40)]

    admission = admit(backlog, _plan, {}, max_per_tick=100, max_in_flight_per_platform=1000)

    assert len(admission.admitted) == 100
    assert admission.waiting_runs == 40 * 6 - 100
    assert sum(admission.waiting_by_platform.values()) == admission.waiting_runs


def test_a_full_platform_waits_while_the_other_keeps_going():
    backlog = [BacklogEntry("late", date(2026, 11, 21)), BacklogEntry("early", date(2026, 11, 20))]

    admission = admit(backlog, _plan, {"meta_ads": 5}, max_in_flight_per_platform=6)

    admitted = [(e.workspace_id, r.platform.value) for e, r in admission.admitted]
    assert admitted.count(("early", "meta_ads")) == 1
    assert ("late", "meta_ads") not in admitted
    assert admitted[0][0] == "early"
    assert [e.workspace_id for e in admission.backlog] == ["early", "late"]
    assert admission.backlog[0].admitted == {"meta_ads": 1, "google_ads": 3}
