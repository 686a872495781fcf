"""XLSForm: the shipped questionnaire round-trips through a spreadsheet, and a form
written by hand (as coordinators do in Excel) converts, with what cannot be
converted listed by row number."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from bot.cli.main import main
from bot.cli.xlsform import export_xlsform, import_xlsform
from conversations.schema import load_questionnaire, parse_questionnaire, shipped_questionnaire_path
from conversations.xlsform import Names, from_xlsform_expression, to_xlsform_expression
from tests.support.editions import CHECKS, V2

DEADLINE = "2030-06-30T23:59:00+02:00"


CASES = Path(__file__).parents[2] / "conversations" / "engine_cases"


@pytest.mark.parametrize("source", ["shipped", "v2", "checks", "19_choice_filter",
                                    "18_computed_notes"])
def test_export_then_import_gives_back_the_same_questionnaire(source: str,
                                                              tmp_path: Path) -> None:
    path = shipped_questionnaire_path() if source == "shipped" else tmp_path / "q.yaml"
    if source in ("v2", "checks"):
        path.write_text(V2 if source == "v2" else CHECKS, encoding="utf-8")
    elif source != "shipped":
        case = yaml.safe_load((CASES / f"{source}.yaml").read_text(encoding="utf-8"))
        path.write_text(case["questionnaire"], encoding="utf-8")
    out = io.StringIO()
    assert export_xlsform(path, tmp_path / "form.xlsx", stdout=out) == 0
    assert import_xlsform(tmp_path / "form.xlsx", tmp_path / "back.yaml", stdout=out) == 0
    assert "(0 warnings)" in out.getvalue()
    assert load_questionnaire(tmp_path / "back.yaml") == load_questionnaire(path)


def test_the_exported_sheet_is_an_xlsform(tmp_path: Path) -> None:
    export_xlsform(shipped_questionnaire_path(), tmp_path / "form.xlsx", stdout=io.StringIO())
    workbook = openpyxl.load_workbook(tmp_path / "form.xlsx")
    assert workbook.sheetnames == ["survey", "choices", "settings"]
    survey = [dict(zip([c.value for c in workbook["survey"][1]], (c.value for c in row),
                       strict=True)) for row in workbook["survey"].iter_rows(min_row=2)]
    by_name = {row["name"]: row for row in survey if row["type"] not in ("end_group",
                                                                          "end_repeat")}
    assert by_name["practices"]["type"] == "begin_repeat"
    assert by_name["practices"]["repeat_count"] == "20"
    assert by_name["district_membership"]["relevant"] == "${is_lead_municipality} = 'no'"
    assert by_name["municipality_confirmed"]["stop_if"] == "not(.)"
    assert by_name["funding_national_amount"]["relevant"] == (
        "selected(${funding_sources}, 'fondo_famiglia_intese')")
    assert by_name["funding_national_amount"]["constraint"] == ". <= ${funding_amount}"
    assert by_name["areas"]["type"] == "select_multiple areas"
    assert by_name["ongoing"]["type"] == "select_one yes_no"
    assert by_name["description"]["appearance"] == "multiline"
    assert by_name["title"]["label::Italiano (it)"] == "Scrivi il titolo della buona pratica."
    assert by_name["title"]["label::English (en)"] == "Write the title of the good practice."
    settings = workbook["settings"]
    headers = [c.value for c in settings[1]]
    values = dict(zip(headers, (c.value for c in settings[2]), strict=True))
    assert values["form_id"] == "family_policies" and values["version"] == "2019.2"


def _sheet(workbook: Any, name: str, rows: list[list[Any]]) -> None:
    sheet = workbook.create_sheet(name)
    for row in rows:
        sheet.append(row)


def hand_written(path: Path, *, settings: list[list[Any]] | None = None) -> None:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "survey", [
        ["type", "name", "label::Italiano (it)", "label::English (en)", "hint",
         "required", "relevant", "constraint", "constraint_message",
         "choice_filter", "repeat_count", "appearance", "calculation"],
        ["begin_group", "centre", "Il centro", "The centre", None, None, None, None, None,
         None, None, None, None],
        ["text", "name", "Nome del centro?", "Centre name?", "Come compare sull'insegna",
         "yes", None, None, None, None, None, None, None],
        ["select_one yes_no", "has_nursery", "Ha un nido?", "Has a nursery?", None, "yes",
         None, None, None, None, None, None, None],
        ["integer", "places", "Quanti posti?", "How many places?", None, "yes",
         "${has_nursery} = 'yes'", ". > 0 and . <= 200", "Tra 1 e 200 posti", None, None,
         None, None],
        ["select_multiple services", "services", "Servizi?", "Services?", None, "yes", None,
         None, None, None, None, None, None],
        ["select_one regions", "region", "Regione?", "Region?", None, None, None,
         None, None, None, None, None, None],
        ["select_one provinces", "province", "Provincia?", "Province?", None, None, None,
         None, None, "region = ${region}", None, None, None],
        ["select_one provinces", "province2", "Altra provincia?", "Other province?", None,
         None, None, None, None, "string-length(${region}) > 1", None, None, None],
        ["date", "opened", "Aperto il?", "Opened on?", None, None,
         "selected(${services}, 'nido') or not(${name} = '')", ". <= today()", None, None,
         None, None, None],
        ["calculate", "double", None, None, None, None, None, None, None, None, None, None,
         "${places} * 2"],
        ["text", "story", "Storia?", "History?", None, None, "string-length(${name}) > 3",
         None, None, None, None, "multiline", None],
        ["select_one sizes or_other", "size", "Dimensione?", "Size?", None, None, None,
         None, None, None, None, None, None],
        ["end_group", None, None, None, None, None, None, None, None, None, None, None, None],
        ["begin_repeat", "rooms", "Stanza", "Room", None, None, None, None, None, None, "4",
         None, None],
        ["decimal", "area", "Superficie in m²?", "Area in m²?", None, "yes", None, None, None,
         None, None, None, None],
        ["end_repeat", None, None, None, None, None, None, None, None, None, None, None, None],
        ["note", "bye", "Totale: ${sum(rooms.area)}", "Total", None, None,
         "count(${rooms}) > 0", None, None, None, None, None, None],
    ])
    _sheet(workbook, "choices", [
        ["list_name", "name", "label::Italiano (it)", "label::English (en)", "region"],
        ["yes_no", "yes", "Sì", "Yes", None],
        ["yes_no", "no", "No", "No", None],
        ["services", "nido", "Nido", "Nursery", None],
        ["services", "consulenza", "Consulenza", "Counselling", None],
        ["regions", "toscana", "Toscana", "Tuscany", None],
        ["regions", "lazio", "Lazio", "Lazio", None],
        ["provinces", "fi", "Firenze", "Florence", "toscana"],
        ["provinces", "rm", "Roma", "Rome", "lazio"],
        ["sizes", "small", "Piccolo", "Small", None],
        ["sizes", "large", "Grande", "Large", None],
    ])
    _sheet(workbook, "settings", settings or [
        ["form_title", "form_id", "version", "default_language"],
        ["Centri 2030", "centres2030", 3, "Italiano (it)"],
    ])
    workbook.save(path)


def test_a_hand_written_xlsform_converts(tmp_path: Path) -> None:
    hand_written(tmp_path / "form.xlsx")
    out = io.StringIO()
    code = import_xlsform(tmp_path / "form.xlsx", tmp_path / "q.yaml", deadline=DEADLINE,
                          stdout=out)
    log = out.getvalue()
    assert code == 0, log
    assert log.splitlines() == [
        f"{tmp_path / 'form.xlsx'}: warning: survey row 9: choice_filter 'string-length("
        "${region}) > 1' of 'province2' is not of the form column = ${field}: every choice is "
        "offered",
        f"{tmp_path / 'form.xlsx'}: warning: survey row 11: type 'calculate' (double) cannot be "
        "converted: left out",
        f"{tmp_path / 'form.xlsx'}: warning: survey row 12: relevant 'string-length(${{name}}) "
        "> 3' of 'story' cannot be converted ('string-length' has no equivalent): left out",
        f"wrote {tmp_path / 'q.yaml'}: ok (3 warnings)",
    ]
    q = load_questionnaire(tmp_path / "q.yaml")
    assert (q.id, q.version, q.languages) == ("centres2030", "3", ("it", "en"))
    assert q.title == {"it": "Centri 2030", "en": "Centri 2030"}  # form_title serves both
    assert q.deadline.isoformat() == DEADLINE
    [centre, rooms] = q.sections
    items = {item.id: item for item in centre.items if item.kind == "item"}
    # Plain columns serve every language.
    assert items["name"].help == {"it": "Come compare sull'insegna",
                                  "en": "Come compare sull'insegna"}
    assert items["has_nursery"].type.value == "yes_no"
    assert items["places"].when == "has_nursery"
    assert items["places"].constraint == ". > 0 and . <= 200"
    assert items["places"].constraint_message == {"it": "Tra 1 e 200 posti",
                                                  "en": "Tra 1 e 200 posti"}
    assert items["services"].type.value == "multiple_choice"
    assert [c.value for c in items["services"].choices] == ["nido", "consulenza"]
    assert items["opened"].when == "selected(services, 'nido') or not empty(name)"
    assert items["opened"].constraint == ". <= today()"
    # A simple choice_filter: each province is offered for its region.
    assert [(c.value, c.when) for c in items["province"].choices] == [
        ("fi", "region == 'toscana'"), ("rm", "region == 'lazio'")]
    assert all(c.when is None for c in items["province2"].choices)
    assert items["opened"].required is False  # XLSForm: not required unless it says so
    assert items["story"].type.value == "long_text" and items["story"].when is None
    # or_other: ODK's "Other" choice, whose text the bot asks next.
    assert [(c.value, c.label, c.other) for c in items["size"].choices] == [
        ("small", {"it": "Piccolo", "en": "Small"}, False),
        ("large", {"it": "Grande", "en": "Large"}, False),
        ("other", {"it": "Altro", "en": "Other"}, True)]
    assert rooms.id == "section_2" and rooms.title == q.title  # rows outside any group
    repeat = rooms.items[0]
    assert repeat.kind == "repeat" and repeat.max_entries == 4
    assert repeat.items[0].type.value == "amount"
    assert rooms.items[1].when == "count(rooms) > 0"


def test_a_form_that_does_not_validate_exits_1(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    hand_written(tmp_path / "form.xlsx")
    # No deadline anywhere: the result cannot validate.
    assert main(["import-xlsform", str(tmp_path / "form.xlsx"), "--out",
                 str(tmp_path / "q.yaml")]) == 1
    out = capsys.readouterr().out
    assert "warning: settings: no deadline (give a `deadline` column or --deadline)" in out
    assert "does not validate" in out


def test_the_deadline_may_come_from_the_settings_sheet(tmp_path: Path) -> None:
    hand_written(tmp_path / "form.xlsx", settings=[
        ["form_title::Italiano", "form_title::en", "form_title::Klingon", "form_id",
         "deadline"],
        ["Centri", "Centres", "Qapla", "centres", DEADLINE],
    ])
    out = io.StringIO()
    assert import_xlsform(tmp_path / "form.xlsx", tmp_path / "q.yaml", stdout=out) == 0
    assert ("warning: column 'form_title::Klingon': no language code (write it like "
            "'label::Italiano (it)'): left out") in out.getvalue()
    raw = yaml.safe_load((tmp_path / "q.yaml").read_text(encoding="utf-8"))
    assert raw["title"] == {"it": "Centri", "en": "Centres"}
    assert raw["version"] == "1"


@pytest.mark.parametrize(
    ("xlsform", "ours"),
    [
        ("${a} = 'x'", "a == 'x'"),
        ("${flag} = 'yes'", "flag"),
        ("${flag} = 'no'", "not flag"),
        ("${flag} != 'yes'", "not flag"),
        ("selected(${flag}, 'yes')", "flag"),
        ("selected(${many}, 'v') and ${n} >= 3", "selected(many, 'v') and n >= 3"),
        ("not(${a} = 'x' or ${n} < 2)", "not (a == 'x' or n < 2)"),
        ("${a} = ''", "empty(a)"),
        ("${a} != ''", "not empty(a)"),
        (". <= ${total} div 2", ". <= total / 2"),
        (". <= today()", ". <= today()"),
        ("sum(${cost}) > 10", "sum(rooms.cost) > 10"),
        ("count(${rooms}) >= 1", "count(rooms) >= 1"),
        ("${flag} = true()", "flag == true"),
    ],
)
def test_expressions_convert_both_ways(xlsform: str, ours: str) -> None:
    names = Names(yes_no={"flag"}, repeat_of={"cost": "rooms"}, repeats={"rooms"})
    assert from_xlsform_expression(xlsform, names) == ours
    back = to_xlsform_expression(ours, names)
    assert from_xlsform_expression(back, names) == ours


@pytest.mark.parametrize(
    ("ours", "xlsform", "back"),
    [
        ("kind in ['a', 'b']", "(${kind} = 'a' or ${kind} = 'b')", "(kind == 'a' or kind == 'b')"),
        ("kind not in ['a']", "${kind} != 'a'", "kind != 'a'"),
        ("many in ['v', 'w'] and n > 1", "(selected(${many}, 'v') or selected(${many}, 'w')) "
         "and ${n} > 1", "(selected(many, 'v') or selected(many, 'w')) and n > 1"),
        ("many not in ['v']", "not(selected(${many}, 'v'))", "not selected(many, 'v')"),
    ],
)
def test_membership_becomes_comparisons(ours: str, xlsform: str, back: str) -> None:
    names = Names(multiple={"many"})
    assert to_xlsform_expression(ours, names) == xlsform
    assert from_xlsform_expression(xlsform, names) == back


def test_parse_questionnaire_reads_an_imported_file(tmp_path: Path) -> None:
    hand_written(tmp_path / "form.xlsx")
    import_xlsform(tmp_path / "form.xlsx", tmp_path / "q.yaml", deadline=DEADLINE,
                   stdout=io.StringIO())
    assert parse_questionnaire((tmp_path / "q.yaml").read_text(encoding="utf-8")).id == \
        "centres2030"
