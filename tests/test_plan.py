"""The plan document: schema, file round trip, structural errors on load (one PlanError line
naming the field and the bad value) and consistency checks against the model."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitgym.agents.planners import run_planner
from splitgym.costmodels.cluster import REQUESTER, Cluster
from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import PLAN_VERSION, Plan, load_plan
from splitgym.costmodels.volumes.partitions import named_partition


@pytest.fixture(scope="module")
def db_cluster() -> Cluster:
    return Cluster.from_config("DB", 300)


@pytest.fixture(scope="module")
def equal_plan(vgg16: ModelGraph, db_cluster: Cluster) -> Plan:
    return run_planner("equal", vgg16, db_cluster)


@pytest.fixture()
def doc(equal_plan: Plan) -> dict[str, Any]:
    """A fresh, valid plan document to break."""
    return json.loads(equal_plan.model_dump_json(exclude_none=True))


def _write(tmp_path: Path, data: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _one_line_plan_error(path: Path) -> str:
    with pytest.raises(PlanError) as info:
        load_plan(path)
    msg = str(info.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    assert "Traceback" not in msg
    return msg


# -- schema and round trip ------------------------------------------------------------------------
def test_equal_plan_has_the_expected_structure(equal_plan: Plan, vgg16: ModelGraph) -> None:
    assert equal_plan.format == "splitgym.plan"
    assert equal_plan.version == PLAN_VERSION == 2
    assert equal_plan.kind == "volumes"
    assert equal_plan.method == "equal"
    assert equal_plan.model.name == "vgg16"
    assert tuple(equal_plan.model.input) == (3, 224, 224)
    assert [d.name for d in equal_plan.devices] == ["xavier-0", "xavier-1", "nano-0", "nano-1"]
    # the default partition is one volume per unit, each split evenly into 4
    assert equal_plan.partition == [(i, i) for i in range(vgg16.num_units)]
    assert equal_plan.volumes[0].rows == [0, 56, 112, 168, 224]
    assert equal_plan.volumes[-1].rows[-1] == vgg16.units[-1].height == 7
    assert equal_plan.cuts.shape == (vgg16.num_units, 5)
    assert equal_plan.problems(vgg16) == []
    equal_plan.check(vgg16)


def test_save_then_load_round_trips_unchanged(equal_plan: Plan, tmp_path: Path) -> None:
    path = equal_plan.save(tmp_path / "sub" / "plan.json")  # creates the folder
    assert path.exists()
    loaded = load_plan(path)
    assert loaded == equal_plan
    assert loaded.model_dump() == equal_plan.model_dump()
    np.testing.assert_array_equal(loaded.cuts, equal_plan.cuts)
    # saving the loaded plan writes the same bytes
    again = loaded.save(tmp_path / "again.json")
    assert again.read_text() == path.read_text()


def test_saved_file_is_plain_versioned_json(equal_plan: Plan, tmp_path: Path) -> None:
    data = json.loads(equal_plan.save(tmp_path / "p.json").read_text())
    assert data["format"] == "splitgym.plan"
    assert data["version"] == 2 and data["kind"] == "volumes"
    assert "tiles" not in data  # None fields are left out
    assert data["volumes"][2] == {"first": 2, "last": 2, "rows": [0, 28, 56, 84, 112]}


def test_round_trip_of_a_fused_partition(vgg16: ModelGraph, db_cluster: Cluster, tmp_path: Path) -> None:
    plan = run_planner("equal", vgg16, db_cluster, partition="stages")
    assert len(plan.volumes) < vgg16.num_units
    assert load_plan(plan.save(tmp_path / "stages.json")) == plan
    plan.check(vgg16)


# -- load_plan: one PlanError line per broken file ------------------------------------------------
def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "splitgym.plan", "version": ')
    msg = _one_line_plan_error(path)
    assert "not valid JSON" in msg and "bad.json" in msg


def test_missing_file(tmp_path: Path) -> None:
    msg = _one_line_plan_error(tmp_path / "nowhere.json")
    assert "no such file" in msg and "nowhere.json" in msg


def test_directory(tmp_path: Path) -> None:
    msg = _one_line_plan_error(tmp_path)
    assert "directory" in msg and str(tmp_path) in msg


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    msg = _one_line_plan_error(_write(tmp_path, [1, 2]))
    assert "dictionary" in msg


def test_binary_file_is_a_plan_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    _one_line_plan_error(path)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.__setitem__(key, value)


def _rows(rows: list[int]) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["volumes"][0].__setitem__("rows", rows)


def _dup(d: dict[str, Any]) -> None:
    d["devices"][2]["name"] = "xavier-0"


def _requester_device(d: dict[str, Any]) -> None:
    d["devices"][0]["name"] = REQUESTER


def _zero_bandwidth(d: dict[str, Any]) -> None:
    d["devices"][1]["bandwidth_mbps"] = 0


BAD_DOCS = {
    # name: (mutation, substrings the one-line message must contain: field, bad value)
    "version 3": (_set("version", 3), ["version", "3"]),
    "wrong format": (_set("format", "other.plan"), ["format", "other.plan"]),
    "unordered rows": (_rows([0, 100, 50, 200, 224]), ["volumes.0", "rows", "[0, 100, 50, 200, 224]"]),
    "rows not starting at 0": (_rows([3, 56, 112, 168, 224]), ["volumes.0", "rows", "[3, 56, 112, 168, 224]"]),
    "too few cut points": (_rows([0, 112, 224]), ["volumes.0.rows", "5 cut points", "[0, 112, 224]"]),
    "too many cut points": (_rows([0, 40, 80, 120, 160, 224]), ["volumes.0.rows", "[0, 40, 80, 120, 160, 224]"]),
    "unknown head_device": (_set("head_device", "ghost"), ["head_device", "'ghost'"]),
    "unknown tile device": (
        lambda d: d.update(
            kind="tiles",
            volumes=[],
            tiles=[
                {"device": "xavier-0", "rows": [0, 112], "cols": [0, 224]},
                {"device": "ghost", "rows": [112, 224], "cols": [0, 224]},
            ],
        ),
        ["tiles.1.device", "'ghost'"],
    ),
    "unknown stage device": (
        lambda d: (
            d.update(kind="stages")
            or _set(
                "stages", [{"device": "nano-1", "first": 0, "last": 8}, {"device": "phantom", "first": 9, "last": 17}]
            )(d)
        ),
        ["stages.1.device", "'phantom'"],
    ),
    "a kind's field missing": (_set("kind", "tiles"), ["kind", "'tiles' plan has no 'volumes'"]),
    "a field of another kind": (
        _set("shares", [{"device": "nano-0", "shares": [{"processor": "gpu", "share": 1}]}]),
        ["kind", "'volumes' plan has no 'shares'"],
    ),
    "unknown kind": (_set("kind", "pixels"), ["kind", "pixels"]),
    "duplicate device names": (_dup, ["device", "['xavier-0', 'xavier-1', 'xavier-0', 'nano-1']"]),
    "device named requester": (_requester_device, ["device", "['requester', 'xavier-1', 'nano-0', 'nano-1']"]),
    "zero bandwidth": (_zero_bandwidth, ["devices.1.bandwidth_mbps", "0"]),
    "unknown field": (_set("colour", "blue"), ["colour", "blue"]),
    "last before first": (lambda d: d["volumes"][3].update(first=3, last=2), ["volumes.3", "last", "first"]),
    "tile with empty rows": (
        _set("tiles", [{"device": "nano-0", "rows": [50, 50], "cols": [0, 224]}]),
        ["tiles.0", "rows"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_DOCS))
def test_structural_errors_are_one_plan_error_line(case: str, doc: dict[str, Any], tmp_path: Path) -> None:
    mutate, expected = BAD_DOCS[case]
    mutate(doc)
    path = _write(tmp_path, doc)
    msg = _one_line_plan_error(path)
    assert msg.startswith(f"plan {path}: ")
    for part in expected:
        assert part in msg, f"{case}: {part!r} not in {msg!r}"


def test_parse_reports_where_the_document_came_from(doc: dict[str, Any]) -> None:
    doc["version"] = 3
    with pytest.raises(PlanError, match=r"^from-env: version"):
        Plan.parse(doc, where="from-env")


def test_a_valid_document_parses(doc: dict[str, Any], equal_plan: Plan) -> None:
    assert Plan.parse(doc) == equal_plan


# -- consistency with the model --------------------------------------------------------------------
def _problems(doc: dict[str, Any], graph: ModelGraph) -> list[str]:
    plan = Plan.parse(doc)
    probs = [str(p) for p in plan.problems(graph)]
    if probs:
        with pytest.raises(PlanError) as info:
            plan.check(graph)
        assert str(info.value) == probs[0]
        assert "\n" not in str(info.value)
    else:
        plan.check(graph)
    return probs


def test_rows_ending_beyond_the_unit_height(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"][0]["rows"] = [0, 56, 112, 168, 230]
    probs = _problems(doc, vgg16)
    assert len(probs) == 1
    assert probs[0].startswith("volumes.0.rows:") and "224" in probs[0] and "230" in probs[0]


def test_rows_ending_before_the_unit_height(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"][17]["rows"] = [0, 2, 4, 5, 6]  # unit 17 is 7 rows high
    probs = _problems(doc, vgg16)
    assert len(probs) == 1
    assert probs[0].startswith("volumes.17.rows:") and "height 7" in probs[0] and "[0, 2, 4, 5, 6]" in probs[0]


def test_volumes_not_covering_every_unit(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"].pop()  # units 0..16 only
    probs = _problems(doc, vgg16)
    assert len(probs) == 1
    assert probs[0].startswith("volumes:") and "0..16" in probs[0] and "0..17" in probs[0]


def test_volumes_not_contiguous(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"].pop(3)  # unit 3 is skipped
    probs = _problems(doc, vgg16)
    assert probs and probs[0].startswith("volumes.3.first:") and "expected 3" in probs[0] and "(got 4)" in probs[0]


def test_overlapping_volumes(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"][1]["first"] = 0  # units 0..1 after unit 0 was already done
    probs = _problems(doc, vgg16)
    assert probs and probs[0].startswith("volumes.1.first:") and "(got 0)" in probs[0]


def test_volume_last_beyond_the_model(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["volumes"][17]["last"] = 18
    probs = _problems(doc, vgg16)
    assert probs == ["volumes.17.last: model has units 0..17 (got 18)"]


def test_wrong_model_input_size(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["model"]["input"] = [3, 112, 112]
    probs = _problems(doc, vgg16)
    assert probs and probs[0].startswith("model.input:") and "[3, 112, 112]" in probs[0] and "[3, 224, 224]" in probs[0]


def test_wrong_model_name(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["model"]["name"] = "resnet18"
    probs = _problems(doc, vgg16)
    assert probs and probs[0].startswith("model.name:") and "resnet18" in probs[0]


def test_stage_beyond_the_model(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    doc["kind"] = "stages"
    doc["stages"] = [{"device": "xavier-0", "first": 0, "last": 9}, {"device": "nano-0", "first": 10, "last": 18}]
    probs = _problems(doc, vgg16)
    assert probs == ["stages.1: units must satisfy first <= last < 18 (got [10, 18])"]


# tiles: NPTP's T layout on a 224x224 image, a top strip and two bottom tiles
T_LAYOUT = [
    {"device": "xavier-0", "rows": [0, 112], "cols": [0, 224]},
    {"device": "nano-0", "rows": [112, 224], "cols": [0, 112]},
    {"device": "nano-1", "rows": [112, 224], "cols": [112, 224]},
]


def _tiles(doc: dict[str, Any], tiles: list[dict[str, Any]]) -> dict[str, Any]:
    doc = dict(doc, tiles=tiles, kind="tiles")
    doc["volumes"] = []
    return doc


def test_exact_tiling_is_accepted(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    assert _problems(_tiles(doc, copy.deepcopy(T_LAYOUT)), vgg16) == []
    # a 2x2 grid, tiles in any order, is exact too
    grid = [
        {"device": d, "rows": r, "cols": c}
        for d, r, c in [
            ("nano-1", [112, 224], [112, 224]),
            ("xavier-0", [0, 112], [0, 112]),
            ("xavier-1", [0, 112], [112, 224]),
            ("nano-0", [112, 224], [0, 112]),
        ]
    ]
    assert _problems(_tiles(doc, grid), vgg16) == []


def test_overlapping_tiles(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    tiles = copy.deepcopy(T_LAYOUT)
    tiles[1]["rows"] = [100, 224]  # reaches into the top strip
    probs = _problems(_tiles(doc, tiles), vgg16)
    assert len(probs) == 1 and probs[0].startswith("tiles:") and "overlap" in probs[0] and "pixel (100, 0)" in probs[0]


def test_tiles_leaving_a_gap(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    tiles = copy.deepcopy(T_LAYOUT)
    tiles[2]["cols"] = [120, 224]  # columns 112..119 of the bottom half uncovered
    probs = _problems(_tiles(doc, tiles), vgg16)
    assert len(probs) == 1 and "gap" in probs[0] and "pixel (112, 112)" in probs[0]


def test_tiles_missing_a_whole_tile(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    probs = _problems(_tiles(doc, copy.deepcopy(T_LAYOUT[:2])), vgg16)
    assert len(probs) == 1 and "gap" in probs[0]


def test_tile_outside_the_image(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    tiles = copy.deepcopy(T_LAYOUT)
    tiles[2]["cols"] = [112, 300]
    probs = _problems(_tiles(doc, tiles), vgg16)
    assert probs == ["tiles.2: outside the 224x224 image (got [[112, 224], [112, 300]])"]


def test_tile_below_the_image(doc: dict[str, Any], vgg16: ModelGraph) -> None:
    tiles = copy.deepcopy(T_LAYOUT)
    tiles[1]["rows"] = [112, 225]
    probs = _problems(_tiles(doc, tiles), vgg16)
    assert probs and probs[0].startswith("tiles.1:") and "outside" in probs[0]


# -- from_volumes / cluster() ---------------------------------------------------------------------
def test_from_volumes_and_cluster_reconstruct_the_cluster(vgg16: ModelGraph) -> None:
    net = {
        "name": "mixed",
        "per_device_mbps": [50, 100, 200, 300],
        "requester_mbps": 150,
        "latency_ms": 2.0,
        "overhead_ms": 0.5,
    }
    cluster = Cluster.from_config("DC", net)
    part = named_partition("stages", vgg16)
    cuts = [[0, 1, 2, 3, vgg16.units[last].height] for _, last in part]
    plan = Plan.from_volumes("hand", vgg16, cluster, part, cuts, meta={"cluster": "DC"})

    assert plan.method == "hand"
    assert [(d.name, d.board, d.bandwidth_mbps) for d in plan.devices] == [
        ("xavier-0", "xavier", 50.0),
        ("tx2-0", "tx2", 100.0),
        ("nano-0", "nano", 200.0),
        ("pi3-0", "pi3", 300.0),
    ]
    assert plan.network.requester_mbps == 150.0
    assert plan.network.latency_ms == pytest.approx(2.0)
    assert plan.network.overhead_ms == pytest.approx(0.5)
    assert plan.partition == part
    np.testing.assert_array_equal(plan.cuts, np.array(cuts))
    plan.check(vgg16)

    back = plan.cluster()
    assert back.name == "DC"
    assert back.names == cluster.names
    assert [d.board for d in back.devices] == [d.board for d in cluster.devices]
    for name in cluster.names + [REQUESTER]:
        assert back.network.cap(name) == cluster.network.cap(name)
    assert back.network.cap(REQUESTER) == 150.0
    assert back.network.latency_s == pytest.approx(0.002)
    assert back.network.overhead_s == pytest.approx(0.0005)
    assert back.network.link("xavier-0", "pi3-0").bandwidth_mbps == 50.0


def test_cluster_survives_a_file_round_trip(vgg16: ModelGraph, tmp_path: Path) -> None:
    cluster = Cluster.from_config("all-nano", "ND")
    plan = run_planner("equal", vgg16, cluster)
    back = load_plan(plan.save(tmp_path / "nd.json")).cluster()
    assert back.names == cluster.names
    assert [back.network.cap(n) for n in back.names] == [50.0, 100.0, 200.0, 300.0]
    assert back.network.cap(REQUESTER) == 300.0
    assert back.name == "plan"  # the equal planner does not record the group name


def test_from_volumes_rejects_cuts_for_another_device_count(vgg16: ModelGraph, db_cluster: Cluster) -> None:
    with pytest.raises(ValueError) as info:  # pydantic's own error: a programming error, not a file error
        Plan.from_volumes("hand", vgg16, db_cluster, [(0, vgg16.num_units - 1)], [[0, 3, 7]])
    assert "cut points" in str(info.value)
