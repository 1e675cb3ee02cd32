"""Published-layout loaders (UCF101, miniUCF, HMDB51, SSv2, Kinetics-400) on tiny frame trees, and the real
split files at full size when ``shared/data`` is present."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from temporal_condense.data import (
    HMDB51,
    UCF101,
    Kinetics400,
    MiniUCF,
    SplitEntry,
    SSv2,
    read_split_csv,
    read_ssv2_annotations,
)
from temporal_condense.errors import ConfigError, TemporalCondenseError


def shared_data() -> Path:
    env = os.environ.get("TC_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def write_clip(folder: Path, n: int, grey: int = 0, name: str = "frame{:06d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        Image.new("RGB", (8, 8), color=(grey, grey, grey)).save(folder / name.format(k + 1))


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("folder_name,label,split\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return path


ROWS = [
    ("v_Walk_g01_c01", "Walk", "train"),
    ("v_Jump_g01_c01", "Jump", "train"),
    ("v_Walk_g02_c01", "Walk", "train"),
    ("v_Jump_g08_c01", "Jump", "test"),
    ("v_Swim_g08_c01", "Swim", "test"),
]


@pytest.fixture
def ucf_root(tmp_path: Path) -> Path:
    for i, (folder, _, _) in enumerate(ROWS):
        write_clip(tmp_path / "jpegs_112" / folder, 6 + i, grey=40 * i)
    write_csv(tmp_path / "ucf101_splits1.csv", ROWS)
    write_csv(tmp_path / "ucf50_splits1.csv", ROWS[:4])
    write_csv(tmp_path / "hmdb51_splits.csv", ROWS)
    return tmp_path


# ---------------------------------------------------------------------------------------------- CSV layouts


def test_ucf101_layout(ucf_root: Path) -> None:
    train = UCF101(ucf_root, "train", frames=4)
    test = UCF101(ucf_root, "test", frames=4)
    assert train.classes == test.classes == ("Jump", "Swim", "Walk")  # sorted over the whole file
    assert train.labels == [2, 0, 2] and test.labels == [0, 1]
    assert train.class_counts().tolist() == [1, 0, 2]
    video, label = train[1]
    assert video.shape == (4, 3, 8, 8) and label == 0
    assert abs(float(video.mean()) * 255 - 40) < 3  # the folder of row 1 (grey 40)
    assert train.videos[0] == ucf_root / "jpegs_112" / "v_Walk_g01_c01"


def test_miniucf_and_hmdb_use_their_split_files(ucf_root: Path) -> None:
    mini = MiniUCF(ucf_root, "test", frames=2)
    assert len(mini) == 1 and mini.classes == ("Jump", "Walk")
    hmdb = HMDB51(ucf_root, "train", frames=2, sampling="random", size=(4, 4))
    assert len(hmdb) == 3 and hmdb[0][0].shape == (2, 3, 4, 4)


def test_csv_loader_errors(ucf_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"split must be one of \('test', 'train'\), got 'val'"):
        UCF101(ucf_root, "val")
    with pytest.raises(TemporalCondenseError, match=r"label 'Swim' of 'v_Swim_g08_c01' is absent from the class list"):
        UCF101(ucf_root, "test", classes=["Jump", "Walk"])
    (ucf_root / "jpegs_112" / "v_Jump_g08_c01" / "frame000001.jpg").unlink()
    for f in (ucf_root / "jpegs_112" / "v_Jump_g08_c01").iterdir():
        f.unlink()
    (ucf_root / "jpegs_112" / "v_Jump_g08_c01").rmdir()
    with pytest.raises(
        TemporalCondenseError, match=r"video folder not found: .*v_Jump_g08_c01 \(listed in .*ucf101_splits1\.csv\)"
    ):
        UCF101(ucf_root, "test")
    with pytest.raises(TemporalCondenseError, match=r"split file not found: .*hmdb51_splits\.csv"):
        HMDB51(tmp_path / "elsewhere", "train")
    bad = tmp_path / "bad.csv"
    bad.write_text("folder,label,split\nx,y,train\n")
    with pytest.raises(TemporalCondenseError, match=r"bad\.csv must have columns .* missing \('folder_name',\)"):
        read_split_csv(bad)
    bad.write_text("folder_name,label,split\nx,,train\n")
    with pytest.raises(TemporalCondenseError, match=r"bad\.csv line 2: empty field"):
        read_split_csv(bad)


def test_read_split_csv_rows(tmp_path: Path) -> None:
    rows = read_split_csv(write_csv(tmp_path / "s.csv", ROWS[:2]))
    assert rows == [SplitEntry("v_Walk_g01_c01", "Walk", "train"), SplitEntry("v_Jump_g01_c01", "Jump", "train")]


# ---------------------------------------------------------------------------------------------- SSv2


@pytest.fixture
def ssv2_root(tmp_path: Path) -> Path:
    (tmp_path / "class_list.json").write_text(json.dumps(["pushing [something] left", "opening x", "closing x"]))
    annot = [{"id": "74225", "class": 2}, {"id": "116154", "class": 0}, {"id": "9", "class": "opening x"}]
    (tmp_path / "annot_val.json").write_text(json.dumps(annot))
    for i, item in enumerate(annot):
        write_clip(tmp_path / "frame" / str(item["id"]), 8, grey=30 * i, name="{:010d}.jpg")
    return tmp_path


def test_ssv2_layout(ssv2_root: Path) -> None:
    ds = SSv2(ssv2_root, "val")
    assert ds.num_classes == 3 and ds.labels == [2, 0, 1]
    assert ds.class_counts().tolist() == [1, 1, 1]
    video, label = ds[2]
    assert video.shape == (8, 3, 8, 8) and label == 1
    images, labels = ds.single_frame().preload(progress=False)
    assert images.shape == (3, 3, 8, 8) and labels.tolist() == [2, 0, 1]


def test_ssv2_errors(ssv2_root: Path) -> None:
    (ssv2_root / "annot_bad.json").write_text(json.dumps([{"id": "74225", "class": 174}]))
    with pytest.raises(
        TemporalCondenseError, match=r"annot_bad\.json: class 174 of video '74225' is absent from the class list"
    ):
        SSv2(ssv2_root, "bad")
    (ssv2_root / "annot_bad.json").write_text(json.dumps([{"id": "74225", "label": 1}]))
    with pytest.raises(TemporalCondenseError, match=r"annot_bad\.json entry 0 must have 'id' and 'class'"):
        SSv2(ssv2_root, "bad")
    (ssv2_root / "annot_bad.json").write_text("[{")
    with pytest.raises(TemporalCondenseError, match=r"cannot parse JSON file .*annot_bad\.json"):
        SSv2(ssv2_root, "bad")
    with pytest.raises(TemporalCondenseError, match=r"file not found: .*annot_train\.json"):
        SSv2(ssv2_root, "train")


# ---------------------------------------------------------------------------------------------- Kinetics


def test_kinetics_by_class(tmp_path: Path) -> None:
    for cls, vids in {"abseiling": ["a1", "a2"], "zumba": ["z1"]}.items():
        for v in vids:
            write_clip(tmp_path / "train" / cls / v, 8, name="{:02d}.jpg")
    ds = Kinetics400(tmp_path, "train")
    assert ds.classes == ("abseiling", "zumba") and ds.labels == [0, 0, 1]
    assert ds[0][0].shape == (8, 3, 8, 8)
    pinned = Kinetics400(tmp_path, "train", classes=["archery", "abseiling", "zumba"])
    assert pinned.labels == [1, 1, 2] and pinned.class_counts().tolist() == [0, 2, 1]
    with pytest.raises(TemporalCondenseError, match=r"class folder .*zumba is absent from the class list"):
        Kinetics400(tmp_path, "train", classes=["abseiling"])
    with pytest.raises(TemporalCondenseError, match=r"Kinetics-400 split folder not found: .*val"):
        Kinetics400(tmp_path, "val")


# ---------------------------------------------------------------------------------------------- real split files


def _need(name: str) -> Path:
    path = shared_data() / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize(
    ("name", "classes", "train", "test"),
    [
        ("ucf50_splits1.csv", 50, 4662, 1861),
        ("ucf101_splits1.csv", 101, 9537, 3783),
        ("hmdb51_splits.csv", 51, 5236, 1530),
    ],
)
def test_real_split_files(name: str, classes: int, train: int, test: int) -> None:
    rows = read_split_csv(_need(name))
    assert len({r.label for r in rows}) == classes
    assert sum(r.split == "train" for r in rows) == train
    assert sum(r.split == "test" for r in rows) == test
    assert len({r.folder_name for r in rows}) == len(rows)  # one row per clip
    train_classes = {r.label for r in rows if r.split == "train"}
    assert {r.label for r in rows if r.split == "test"} <= train_classes


def test_real_split_file_through_the_loader(tmp_path: Path) -> None:
    """The loader parses the full CSV, then names the first missing folder and how many are missing."""
    csv = _need("ucf50_splits1.csv")
    with pytest.raises(TemporalCondenseError, match=r"4662 of 4662 listed folder\(s\) are missing"):
        MiniUCF(tmp_path, "train", split_file=csv)
    first = read_split_csv(csv)[0].folder_name
    write_clip(tmp_path / "jpegs_112" / first, 16)
    ds = MiniUCF(tmp_path, "train", split_file=csv, missing="skip")
    assert len(ds) == 1 and ds.num_classes == 50 and ds[0][0].shape == (16, 3, 8, 8)


def test_real_ssv2_files() -> None:
    items, names = read_ssv2_annotations(_need("ssv2_annot_val.json"), _need("ssv2_class_list.json"))
    assert len(names) == 174 and len(items) == 24777
    counts = torch.bincount(torch.tensor([y for _, y in items]), minlength=174)
    assert int((counts > 0).sum()) == 174
    assert items[0] == ("74225", 140)
