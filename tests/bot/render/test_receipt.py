"""The PDF submission receipt: content, languages, encoding and size."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from bot.render.i18n import translator
from bot.render.presenter import Presenter
from bot.render.receipt import build_receipt, pdf_safe, receipt_id
from conversations.schema import Questionnaire, load_questionnaire, shipped_questionnaire_path

PLACES = {"comune": "Forlì", "provincia": "Forlì-Cesena", "regione": "Emilia-Romagna"}
SUBMITTED_AT = "2019-07-31T21:59:00+00:00"  # 23:59 in Rome
RESPONSE_ID = "9f1c2e54-response"
DESCRIPTION = (
    "Lo sportello offre consulenza, mediazione familiare e gruppi di auto-mutuo aiuto ai "
    "genitori; è attivo dal lunedì al venerdì – anche online. "
)


@pytest.fixture(scope="module")
def questionnaire() -> Questionnaire:
    return load_questionnaire(shipped_questionnaire_path())


def presenter(questionnaire: Questionnaire, lang: str = "it") -> Presenter:
    return Presenter(questionnaire, translator(lang), dict(PLACES))


def practice(number: int, description: str = DESCRIPTION) -> dict[str, Any]:
    return {
        "title": f"Centro per le famiglie «Il Girasole» n. {number} – l’ascolto 😀",
        "areas": ["centri_famiglie", "altro"],
        "areas_other": "Mediazione dei conflitti",
        "description": description,
        "beneficiaries": ["genitori", "famiglie_monoparentali"],
        "level": "comunale",
        "start_date": "2018-09-01",
        "ongoing": True,
        "funding_sources": ["fondo_famiglia_intese", "fondi_comunali"],
        "funding_amount": "1234.50",
        "funding_national_amount": "1000",
        "people_reached": None,
        "website": "https://www.comune.forli.fc.it/famiglie",
        "_unknown": ["people_reached"],
    }


def answers(practices: int = 2, description: str = DESCRIPTION) -> dict[str, Any]:
    return {
        "municipality_confirmed": True,
        "respondent_name": "Niccolò D’Annunzio",
        "respondent_role": "Servizi Sociali – responsabile del servizio",
        "respondent_email": "n.dannunzio@comune.forli.fc.it",
        "respondent_phone": "0543 712345",
        "is_lead_municipality": True,
        "district_name": "Ambito territoriale di Forlì",
        "district_practices_included": False,
        "practices": [practice(n, description) for n in range(1, practices + 1)],
        "notes": "Tutto chiaro, grazie ❤️👍",
        "publish_consent": True,
    }


def build(p: Presenter, data: dict[str, Any], *, compress: bool = False,
          revision: int = 2) -> bytes:
    return build_receipt(p, data, comune="Forlì", provincia="Forlì-Cesena", istat="040012",
                         revision=revision, submitted_at=SUBMITTED_AT, response_id=RESPONSE_ID,
                         compress=compress)


def shown_text(pdf: bytes) -> str:
    """The strings drawn with core fonts, one per line, from an uncompressed PDF.

    fpdf2 writes them as `(...) Tj` in Windows-1252, escaping ( ) and \\.
    """
    content = pdf.decode("cp1252", errors="replace")
    strings = re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", content)
    return "\n".join(re.sub(r"\\(.)", r"\1", s) for s in strings)


def test_receipt_in_italian(questionnaire: Questionnaire) -> None:
    pdf = build(presenter(questionnaire), answers())
    assert pdf.startswith(b"%PDF")
    assert b"/MediaBox [0 0 595.28 841.89]" in pdf  # A4
    text = shown_text(pdf)
    code = receipt_id(RESPONSE_ID, 2, SUBMITTED_AT)
    for expected in (
        "Monitoraggio Politiche per la Famiglia nei Comuni",
        "Ricevuta di invio",
        "Forlì (Forlì-Cesena) – codice ISTAT 040012",
        "31/07/2019 alle 23:59",
        code,
        # Section titles, the items' short labels and answers.
        "Compilatore",
        "Comune corretto",
        "Nome e cognome",
        "Niccolò D’Annunzio",
        "Servizi Sociali – responsabile del servizio",
        "Buona pratica 1",
        "Buona pratica 2",
        "Centro per le famiglie «Il Girasole» n. 2 – l’ascolto ?",  # the emoji as "?"
        "Centri per le famiglie, Altro, specificare: Mediazione dei conflitti",
        "01/09/2018",
        "1.234,50\xa0€",
        "1.000,00\xa0€",
        "Non so / non applicabile",
        "Sì",
        "Tutto chiaro, grazie ??",
        "Pagina 1 di",
    ):
        assert expected in text, expected
    assert text.count("Finanziamento complessivo") == 2
    assert "Ricevuta " + code in text  # in the footer of every page
    # No notes, no unanswered or hidden items.
    assert "Scrivi /aiuto" not in text
    assert "Quando si è conclusa?" not in text
    assert "Con quali soggetti" not in text


def test_receipt_in_english(questionnaire: Questionnaire) -> None:
    text = shown_text(build(presenter(questionnaire, "en"), answers()))
    for expected in (
        "Monitoring of Family Policies in Municipalities",
        "Submission receipt",
        "Forlì (Forlì-Cesena) – ISTAT code 040012",
        "Submitted on:",
        "31/07/2019 at 23:59",
        "Good practice 2",
        "Start date",
        "Total funding",
        "1.234,50\xa0€",  # values keep the Italian formats
        "Don't know / not applicable",
        "Yes",
        "Page 1 of",
    ):
        assert expected in text, expected
    assert "Ricevuta di invio" not in text


def test_receipt_id_is_short_stable_and_per_revision() -> None:
    code = receipt_id(RESPONSE_ID, 2, SUBMITTED_AT)
    expected = hashlib.sha256(f"{RESPONSE_ID}|2|{SUBMITTED_AT}".encode()).hexdigest()[:12]
    assert code == expected
    assert re.fullmatch(r"[0-9a-f]{12}", code)
    assert receipt_id(RESPONSE_ID, 3, SUBMITTED_AT) != code


def test_same_submission_same_bytes(questionnaire: Questionnaire) -> None:
    p = presenter(questionnaire)
    first = build(p, answers(), compress=True)
    assert first.startswith(b"%PDF")
    assert build(p, answers(), compress=True) == first
    assert build(p, answers(), compress=True, revision=3) != first


def test_pdf_safe_keeps_cp1252_and_replaces_the_rest() -> None:
    italian = "àèéìòùÀÈÉÌÒÙ € – — ’ ‘ “ ” « » … °"
    assert pdf_safe(italian) == italian
    assert pdf_safe("ok 😀") == "ok ?"
    assert pdf_safe("❤️") == "?"  # the variation selector does not add a second "?"
    assert pdf_safe("👍🏽") == "?"  # nor does the skin tone
    assert pdf_safe("e\u0300") == "è"  # decomposed accents are composed
    assert pdf_safe("a\u202fb\u2011c\td") == "a\xa0b-c d"
    assert pdf_safe("a\x00b\u2028c\r\nd\re") == "a b\nc\nd\ne"
    for sample in ("漢字", "Ω ≤ ∞", "\U0001f600" * 3):
        pdf_safe(sample).encode("cp1252")  # never raises


def test_long_texts_wrap_and_pages_are_numbered(questionnaire: Questionnaire) -> None:
    long_word = "https://www.comune.esempio.it/" + "sportello-famiglie-" * 15
    description = (DESCRIPTION * 20)[:1500] + "\n\nSecondo paragrafo. " + long_word
    pdf = build(presenter(questionnaire), answers(practices=3, description=description))
    text = shown_text(pdf)
    lines = text.splitlines()
    assert max(len(line) for line in lines) < 120  # wrapped, not clipped
    assert "Secondo paragrafo." in text
    assert long_word.replace("\n", "") in "".join(lines)  # broken inside, nothing lost
    count = re.search(rb"/Count (\d+)", pdf)
    assert count is not None
    pages = int(count[1])
    assert pages >= 3
    assert f"Pagina {pages} di " in text
    assert "{nb}" not in text


def test_twenty_practices_are_all_in_the_receipt(questionnaire: Questionnaire) -> None:
    # How fast: python -m bench.hot_paths.
    p = presenter(questionnaire)
    data = answers(practices=20, description=(DESCRIPTION * 20)[:1500])
    text = shown_text(build(p, data))
    for number in range(1, 21):
        assert f"n. {number} " in text, number


def test_odd_values_do_not_break_the_receipt(questionnaire: Questionnaire) -> None:
    data: dict[str, Any] = {
        "municipality_confirmed": True,
        "respondent_name": "",  # blank text
        "practices": [{"title": "Solo titolo", "funding_amount": "non numerico",
                       "start_date": "01-09-2018", "ongoing": None}],
        "unknown_item": "ignored",
    }
    text = shown_text(build(presenter(questionnaire), data))
    assert "Solo titolo" in text
    assert "non numerico" in text  # shown as stored
    assert "01-09-2018" in text
    assert "È ancora in corso?" not in text  # None without "non so": unanswered
    assert "Nome e cognome\n—" in text
    assert "Ambito o Distretto sociale\n—" in text  # a section with nothing answered
    assert "ignored" not in text


def test_receipt_names_officers_marks_unfilled_and_shows_national_phone(
    questionnaire: Questionnaire,
) -> None:
    from conversations.effects import ItemRef

    data = answers(practices=1)
    data["respondent_phone"] = "+390543712345"
    data.pop("notes")  # an optional question skipped...
    pdf = build_receipt(
        presenter(questionnaire), data, comune="Forlì", provincia="Forlì-Cesena",
        istat="040012", revision=1, submitted_at=SUBMITTED_AT, response_id=RESPONSE_ID,
        submitted_by="Niccolò (@niccolo)", contributors=("Anna", "@bruno"),
        unfilled=frozenset({ItemRef("notes"), ItemRef("results", "practices", 0)}),
        compress=False,
    )
    text = shown_text(pdf)
    assert "Inviato da:\nNiccolò (@niccolo)" in text
    assert "Hanno contribuito:\nAnna, @bruno" in text
    assert "Osservazioni\nnon compilato" in text  # ...reads "non compilato"
    assert "Risultati\nnon compilato" in text
    assert "0543 712345" in text and "+390543712345" not in text
