from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.io import (
    CsvFormatError,
    ImportValidationError,
    read_conflicts_csv,
    read_entities_csv,
    read_inspectors_csv,
    write_conflicts_csv,
    write_entities_csv,
    write_inspectors_csv,
)
from shuangsuiji.synth import make_city

HEADER = "id,name,entity_type,industry,region,registered,tier,status,tags\n"
GOOD = "91350100M000100Y43,福州某贸易有限公司,有限责任公司,F5191,350102001,2019-03-01,B,存续,\n"


def test_round_trip(tmp_path: Path) -> None:
    city = make_city(2_000, seed=3)
    write_entities_csv(city.entities, tmp_path / "e.csv")
    write_inspectors_csv(city.inspectors, tmp_path / "i.csv")
    write_conflicts_csv(city.conflicts, tmp_path / "c.csv")
    e = read_entities_csv(tmp_path / "e.csv")
    assert list(e) == list(city.entities)
    assert list(read_inspectors_csv(tmp_path / "i.csv")) == list(city.inspectors)
    assert read_conflicts_csv(tmp_path / "c.csv") == list(city.conflicts)


def test_bom_and_optional_columns() -> None:
    text = (
        "\ufeffid,name,entity_type,industry,region,registered,tier\n"
        + GOOD.rsplit(",", 2)[0]
        + "\n"
    )
    pool = read_entities_csv(io.BytesIO(text.encode("utf-8")))
    assert pool.entity(0).status == "存续" and pool.entity(0).tags == frozenset()


def test_every_bad_row_is_reported_with_its_line() -> None:
    rows = [
        GOOD,
        GOOD,  # duplicate of line 2
        "91350100M000100Y44,名,有限责任公司,F5191,350102,2019-03-01,B,存续,\n",  # bad check char
        "91110108MA01ABCD3L,名,有限责任公司,F5191,350102,2019-02-30,E,存续,\n",  # bad date + tier
        "92350100MA00000000,,个体工商户,Z1,3501x,1900-01-01,A,倒闭,\n",
        "only,two\n",
    ]
    with pytest.raises(ImportValidationError) as info:
        read_entities_csv(HEADER + "".join(rows))
    found = {(e.line, e.column) for e in info.value.errors}
    assert {
        (3, "id"),
        (4, "id"),
        (5, "registered"),
        (5, "tier"),
        (6, "name"),
        (6, "industry"),
        (6, "region"),
        (6, "registered"),
        (6, "status"),
        (7, "*"),
    } <= found
    assert "nothing was imported" in str(info.value)


def test_gbk_file_gets_an_actionable_error() -> None:
    data = (HEADER + GOOD).encode("gbk")
    with pytest.raises(CsvFormatError, match="GBK/GB18030"):
        read_entities_csv(io.BytesIO(data))
    pool = read_entities_csv(io.BytesIO(data), encoding="gb18030")
    assert pool.entity(0).name == "福州某贸易有限公司"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_gets_an_actionable_error(codec: str) -> None:
    data = (HEADER + GOOD).encode(codec)
    with pytest.raises(CsvFormatError, match=r"UTF-16.*encoding='utf-16'"):
        read_entities_csv(io.BytesIO(data))
    if codec == "utf-16":
        pool = read_entities_csv(io.BytesIO(data), encoding="utf-16")
        assert pool.entity(0).name == "福州某贸易有限公司"


def test_missing_columns_and_empty_files() -> None:
    with pytest.raises(CsvFormatError, match=r"missing column\(s\) \['tier'\]"):
        read_entities_csv("id,name,entity_type,industry,region,registered\n")
    with pytest.raises(CsvFormatError, match="empty"):
        read_entities_csv(io.BytesIO(b""))
    with pytest.raises(CsvFormatError, match="no rows"):
        read_entities_csv(HEADER)


def test_unknown_department_for_inspectors() -> None:
    text = (
        "id,name,department,region,certificate_no,certificate_expiry\n"
        "ZF1,张三,SCJG,350102,闽执1,2028-01-01\nZF2,李四,XXX,350102,闽执2,2028-01-01\n"
    )
    with pytest.raises(ImportValidationError, match=r"line 3.*unknown department"):
        read_inspectors_csv(text, departments=["SCJG"])


@given(st.text(alphabet="';\"--%_\\中文 ()*DROP TABLE", min_size=1, max_size=30).filter(str.strip))
def test_names_with_sql_metacharacters_are_kept_verbatim(name: str) -> None:
    name = name.strip()
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerow(
        ["91350100M000100Y43", name, "有限责任公司", "F5191", "350102", "2019-01-01", "A", "", ""]
    )
    pool = read_entities_csv(HEADER + buf.getvalue())
    assert str(pool.names[0]) == name


def test_large_import_is_vectorised(tmp_path: Path) -> None:
    city = make_city(50_000, seed=9)
    write_entities_csv(city.entities, tmp_path / "big.csv")
    pool = read_entities_csv(tmp_path / "big.csv")
    assert (pool.ids == city.entities.ids).all()
    assert np.array_equal(pool.registered, city.entities.registered)


def test_a_dataframe_is_validated_like_a_csv_with_its_lines() -> None:
    import pandas as pd

    from shuangsuiji.io import entities_from_dataframe

    good = dict(zip(HEADER.strip().split(","), GOOD.strip().split(","), strict=True))
    bad = good | {"id": "91350100M000100Y44", "registered": "2019-13-01"}
    pool = entities_from_dataframe(pd.DataFrame([good]))
    assert list(pool) == list(read_entities_csv(HEADER + GOOD))
    with pytest.raises(ImportValidationError) as caught:
        entities_from_dataframe(pd.DataFrame([good, bad]))
    assert {(e.line, e.column) for e in caught.value.errors} == {(3, "id"), (3, "registered")}
    with pytest.raises(CsvFormatError, match=r"missing column\(s\) \['tier'\]"):
        entities_from_dataframe(pd.DataFrame([good]).drop(columns="tier"))
