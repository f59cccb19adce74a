"""Bad input never crashes: malformed files for the import, malformed tablet requests.

Every case here is something a real file or tablet may send: byte-order marks, Excel's
semicolons, Cyrillic and Kazakh headers, other encodings, ragged rows, counts and arms
out of range, JSON of the wrong shape. Each must be answered with a message naming the
problem (with its line and column, or its field, where there is one), never with a
server error, and must leave the database as it was.
"""

import io
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from fielding.models import AllocationSlot, Assignment, Respondent, Response
from survey.demo import places_ensure
from survey.services import wave_open
from tests.conftest import import_csv, make_user
from tests.fielding.tablets import RESPONSES_URL, reservations_url, tablet_for

IMPORT_URL = "/fielding/import/"
BOM = b"\xef\xbb\xbf"
CONTROL_4 = "the count must be a whole number from 0 to 3 on the control list, not “4”."
NOT_AN_ARM = "treatment must be 0 (control) or 1 (treatment), not “%s”."
NOT_UTF8 = "the file is not UTF-8 text"
NULLS = "the file holds null characters, so it is not CSV text"
UNREADABLE = "this row cannot be read"
OVER_FIELD_LIMIT = "one of its fields is longer than 131072 characters"


def csv_case(case_id: str, data: bytes, expected: list[str], **spec):
    """A file, the import options that differ from y/treat/J = 3, and the messages
    (or parts of them) the refusal must hold."""
    return pytest.param(data, spec, expected, id=case_id)


CSV_CASES = [
    # Byte-order marks and separators
    csv_case(
        "bom-then-a-count-out-of-range",
        BOM + b"y,treat\n1,0\n4,0\n",
        ["line 3, column “y”: " + CONTROL_4],
    ),
    csv_case(
        "two-boms-do-not-hide-the-first-column",
        BOM + BOM + b"y,treat\n1,0\n4,0\n",
        ["line 3, column “y”: " + CONTROL_4],
    ),
    csv_case("only-a-bom", BOM, ["empty"]),
    csv_case(
        "semicolons-and-an-arm-of-2",
        b"y;treat\n1;0\n2;2\n",
        ["line 3, column “treat”: " + NOT_AN_ARM % "2"],
    ),
    csv_case(
        "semicolons-and-a-decimal-comma-count",
        b"y;treat\n1,5;0\n",
        [
            "line 2, column “y”: the count must be a whole number from 0 to 3 on the "
            "control list, not “1,5”."
        ],
    ),  # fmt: skip
    csv_case(
        "excel-sep-line-before-the-header",
        b"sep=;\ny;treat\n1;0\n",
        ["line 1: column 2 has no name."],
    ),
    # Cyrillic and Kazakh headers and labels
    csv_case(
        "russian-headers-and-a-word-for-the-arm",
        "ответ,группа\n1,0\n2,контроль\n".encode(),
        ["line 3, column “группа”: " + NOT_AN_ARM % "контроль"],
        outcome="ответ",
        treat="группа",
    ),
    csv_case(
        "kazakh-headers-and-a-count-in-words",
        "жауап;топ;өңір\n1;0;Алматы\nекі;1;Астана\n".encode(),
        [
            "line 3, column “жауап”: the count must be a whole number from 0 to 4 on the "
            "treatment list, not “екі”."
        ],
        outcome="жауап",
        treat="топ",
        covariates="өңір",
    ),  # fmt: skip
    csv_case(
        "kazakh-label-for-the-control-arm",
        "y,treat\n1,бақылау\n".encode(),
        ["line 2, column “treat”: " + NOT_AN_ARM % "бақылау"],
    ),
    csv_case(
        "russian-header-without-the-named-column",
        "ответ,группа\n1,0\n".encode(),
        [
            "line 1, column “y”: no such column; the header has: ответ, группа",
            "line 1, column “treat”: no such column",
        ],
    ),  # fmt: skip
    # Encodings
    csv_case(
        "cp1251-from-an-old-excel",
        "y,treat,пол\n1,0,мужской\n".encode("cp1251"),
        ["line 1: " + NOT_UTF8, "Save it as “CSV UTF-8”"],
        covariates="пол",
    ),
    csv_case(
        "one-latin-1-byte-in-a-utf-8-file",
        "y,treat,city\n1,0,Almaty\n2,1,Zürich\n".encode() + b"3,0,caf\xe9\n",
        ["line 4: " + NOT_UTF8],
        covariates="city",
    ),
    csv_case(
        "utf-16-with-its-bom",
        "y,treat\n1,0\n".encode("utf-16"),
        ["line 1: " + NOT_UTF8 + " (byte 1)"],
    ),
    csv_case(
        "utf-16-without-a-bom",
        "y,treat\n1,0\n".encode("utf-16-le"),
        ["line 1: " + NULLS],
    ),
    csv_case(
        "a-spreadsheet-not-a-csv",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
        ["line 1: " + NULLS],
    ),
    csv_case(
        "a-null-character-in-a-value",
        b"y,treat,g\n1,0,a\n2,1,b\x00c\n",
        ["line 3: " + NULLS],
        covariates="g",
    ),
    # Blank and ragged lines, quotes
    csv_case(
        "blank-lines-keep-the-line-numbers-right",
        b"y,treat\n\n1,0\n\n \n9,1\n",
        [
            "line 6, column “y”: the count must be a whole number from 0 to 4 on the "
            "treatment list, not “9”."
        ],
    ),  # fmt: skip
    csv_case(
        "a-row-of-empty-fields-is-skipped-the-next-is-not",
        b"y,treat\n , \n1,0\n4,0\n",
        ["line 4, column “y”: " + CONTROL_4],
    ),
    csv_case(
        "a-row-with-too-few-fields",
        b"y,treat,south\n1,0,1\n2,1\n",
        ["line 3: has 2 fields but the header has 3."],
        covariates="south",
    ),
    csv_case(
        "a-row-with-too-many-fields",
        b"y,treat\n1,0\n2,1,extra\n",
        ["line 3: has 3 fields but the header has 2."],
    ),
    csv_case(
        "a-quote-that-never-closes",
        b'y,treat\n1,0\n"2,1\n3,0\n',
        ["line 3: " + UNREADABLE, "Check the quotes."],
    ),
    csv_case(
        "a-quote-that-never-closes-in-the-header",
        b'"y,treat\n1,0\n',
        ["line 1: " + UNREADABLE],
    ),
    csv_case(
        "a-header-field-over-the-csv-field-limit",
        b"y,treat," + b"a" * 200_000 + b"\n1,0,1\n",
        ["line 1: " + UNREADABLE + ": " + OVER_FIELD_LIMIT],
    ),
    csv_case(
        "a-field-over-the-csv-field-limit",
        b"y,treat,note\n1,0," + b"a" * 200_000 + b"\n",
        ["line 2: " + UNREADABLE + ": " + OVER_FIELD_LIMIT],
    ),
    csv_case("a-header-and-no-rows", b"y,treat\n", ["line 1: the file has a header"]),
    csv_case("an-empty-file", b"", ["empty"]),
    csv_case(
        "a-column-named-twice",
        b"y,treat,y\n1,0,2\n",
        ["line 1, column “y”: the column name appears twice."],
    ),
    csv_case(
        "a-column-without-a-name",
        b"y,,treat\n1,2,0\n",
        ["line 1: column 2 has no name."],
    ),
    # Counts out of range or not numbers
    csv_case(
        "a-control-count-over-j",
        b"y,treat\n4,0\n",
        ["line 2, column “y”: " + CONTROL_4],
    ),
    csv_case(
        "a-treatment-count-over-j-plus-1",
        b"y,treat\n5,1\n",
        [
            "line 2, column “y”: the count must be a whole number from 0 to 4 on the "
            "treatment list, not “5”."
        ],
    ),  # fmt: skip
    csv_case("a-negative-count", b"y,treat\n-1,0\n", ["column “y”", "not “-1”."]),
    csv_case("a-count-in-words", b"y,treat\nthree,0\n", ["column “y”", "not “three”."]),
    csv_case("a-fractional-count", b"y,treat\n1.5,1\n", ["column “y”", "not “1.5”."]),
    csv_case("a-count-of-nan", b"y,treat\nnan,1\n", ["column “y”", "not “nan”."]),
    csv_case(
        "an-infinite-count", b"y,treat\n1e400,1\n", ["column “y”", "not “1e400”."]
    ),
    # Arms other than 0 and 1, a missing arm column
    csv_case(
        "an-arm-of-2",
        b"y,treat\n1,2\n",
        ["line 2, column “treat”: " + NOT_AN_ARM % "2"],
    ),
    csv_case("an-arm-of-yes", b"y,treat\n1,yes\n", [NOT_AN_ARM % "yes"]),
    csv_case(
        "an-empty-arm", b"y,treat\n1,\n", ["line 2, column “treat”: " + NOT_AN_ARM % ""]
    ),
    csv_case(
        "markup-as-an-arm-is-shown-as-text",
        b"y,treat\n1,<b>1</b>\n",
        [NOT_AN_ARM % "<b>1</b>"],
    ),
    csv_case(
        "no-treatment-column",
        b"y,south\n1,0\n",
        ["line 1, column “treat”: no such column; the header has: y, south"],
    ),
    csv_case(
        "one-column-for-the-count-and-the-arm",
        b"y,treat\n1,0\n",
        ["line 1: ", "different column"],
        treat="y",
    ),
    # Respondent ids, weights, covariates and places
    csv_case(
        "a-respondent-id-twice",
        b"id,y,treat\n7,1,0\n8,2,1\n7,0,0\n",
        ["line 4, column “id”: id “7” is already used on line 2."],
        id_column="id",
    ),
    csv_case(
        "an-empty-respondent-id",
        b"id,y,treat\n7,1,0\n,2,1\n",
        ["line 3, column “id”: the id is empty."],
        id_column="id",
    ),
    csv_case(
        "a-respondent-id-too-long",
        b"id,y,treat\n" + b"x" * 300 + b",1,0\n",
        ["line 2, column “id”: longer than"],
        id_column="id",
    ),
    csv_case(
        "a-negative-weight",
        b"y,treat,w\n1,0,-2\n",
        ["line 2, column “w”: a weight must be a positive number, not “-2”."],
        weight="w",
    ),
    csv_case(
        "a-weight-in-words",
        b"y,treat,w\n1,0,heavy\n",
        ["line 2, column “w”: a weight must be a positive number, not “heavy”."],
        weight="w",
    ),
    csv_case(
        "a-numeric-covariate-in-words",
        b"y,treat,age\n1,0,old\n",
        ["line 2, column “age”: “old” is not a number."],
        numeric="age",
    ),
    csv_case(
        "a-covariate-name-with-a-space",
        b"y,treat,home town\n1,0,Almaty\n",
        ["line 1, column “home town”: a covariate's name may not hold spaces"],
        covariates="home town",
    ),
    csv_case(
        "an-unknown-place",
        b"y,treat,city\n1,0,Atlantis\n",
        ["line 2, column “city”: “Atlantis” is not a known settlement code or name"],
        place="city",
    ),
]


def form_fields(spec: dict) -> dict:
    return {
        "items": 3,
        "outcome": "y",
        "treat": "treat",
        "covariates": "",
        "numeric": "",
        **spec,
    }


def upload(client, data: bytes, name: str = "bad.csv", **spec):
    fields = form_fields(spec)
    fields["file"] = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(IMPORT_URL, fields)


def said(reply) -> list[str]:
    """The problems and form errors the import page shows."""
    context = reply.context
    errors = [error for field in context["form"].errors.values() for error in field]
    return [*context["problems"], *errors]


def assert_names_each(messages: list[str], expected: list[str]) -> None:
    for part in expected:
        assert any(part in message for message in messages), (part, messages)


@pytest.mark.parametrize(("data", "spec", "expected"), CSV_CASES)
def test_the_import_page_names_the_problem_and_stores_nothing(
    admin_client, stored_rows, data, spec, expected
):
    before = stored_rows()

    reply = upload(admin_client, data, **spec)

    assert reply.status_code == 200
    assert_names_each(said(reply), expected)
    assert "<b>1</b>" not in reply.content.decode()
    assert stored_rows() == before


@pytest.mark.parametrize(("data", "spec", "expected"), CSV_CASES)
def test_the_import_command_names_the_problem_and_stores_nothing(
    tmp_path, stored_rows, data, spec, expected
):
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    spec = form_fields(spec)
    options = ["--items", "3", "--outcome", spec["outcome"], "--treat", spec["treat"]]
    for option, key in [
        ("--covariate", "covariates"),
        ("--numeric", "numeric"),
        ("--id", "id_column"),
        ("--weight", "weight"),
        ("--place", "place"),
    ]:
        if spec.get(key):
            options += [option, spec[key]]
    before = stored_rows()
    stderr = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_responses", str(path), *options, stderr=stderr)

    assert refused.value.returncode == 2
    assert_names_each(stderr.getvalue().splitlines(), expected)
    assert stored_rows() == before


# A 50 MB file


FIFTY_MB = 50 * 1024 * 1024
WIDE_ROWS = 10_000


def fifty_megabytes(last_row: bytes) -> bytes:
    """A 50 MB file of 10,000 wide rows (an export with 50 free-text columns), the
    last one starting with ``last_row``, made in memory."""
    columns = 50
    header = b"y,treat," + b",".join(b"q%d" % n for n in range(columns)) + b"\n"
    cells = (b"," + b"an answer in free text " * 4) * columns + b"\n"
    rows = [b"%d,%d" % (n % 4, n % 2) + cells for n in range(WIDE_ROWS - 1)]
    data = header + b"".join(rows)
    # The last row's cells share what is left, each under the CSV reader's limit.
    room = FIFTY_MB - len(data) - len(last_row) - 1 - columns
    size, extra = divmod(room, columns)
    last = [b"," + b"z" * (size + (n < extra)) for n in range(columns)]
    return data + last_row + b"".join(last) + b"\n"


def test_a_50_mb_file_over_the_import_limit_is_refused_with_its_size(
    admin_client, settings, stored_rows
):
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    before = stored_rows()

    reply = upload(admin_client, fifty_megabytes(b"1,0"), name="big.csv")

    assert reply.status_code == 200
    assert [message.replace("\xa0", " ") for message in said(reply)] == [
        "The file (50.0 MB) is larger than the import limit of 20.0 MB."
    ]
    assert stored_rows() == before


def test_a_50_mb_file_under_the_limit_is_read_whole_and_its_bad_row_named(
    admin_client, settings, stored_rows
):
    assert settings.IMPORT_MAX_BYTES >= FIFTY_MB
    before = stored_rows()

    reply = upload(admin_client, fifty_megabytes(b"9,0"), name="big.csv")

    assert reply.status_code == 200
    assert said(reply) == [
        f"line {WIDE_ROWS + 1}, column “y”: the count must be a whole number from 0 "
        "to 3 on the control list, not “9”."
    ]
    assert stored_rows() == before


# The tablet API: POST /api/v1/responses/


def tablet_rows() -> tuple[int, int, int, int]:
    """Respondents, assignments, responses and used slots."""
    return (
        Respondent.objects.count(),
        Assignment.objects.count(),
        Response.objects.count(),
        AllocationSlot.objects.filter(status=AllocationSlot.USED).count(),
    )


@pytest.fixture
def tablet(db):
    """A tablet of an interviewer assigned to a small open wave (J = 3, one stratum
    of every place, a coded ``gender`` and a numeric ``age``), with three slots
    reserved in Almaty."""
    places_ensure()
    imported = import_csv(
        b"y,treat,gender,age\n1,0,1,30\n2,1,2,40\n",
        items=3,
        outcome="y",
        treat="treat",
        covariates=("gender",),
        numeric=("age",),
    )
    wave = wave_open(wave=imported.wave)
    interviewer = make_user("ivan", "interviewer")
    wave.interviewers.add(interviewer)
    tablet = tablet_for(interviewer)
    reply = tablet.client.post(
        reservations_url(wave),
        {"place": "almaty", "count": 3},
        content_type="application/json",
    )
    assert reply.status_code == 201, reply.content
    tablet.wave = wave
    tablet.slot_ids = [slot["id"] for slot in reply.json()["slots"]]
    return tablet


def good_response(tablet, **changes) -> dict:
    item = {
        "uuid": str(uuid.uuid4()),
        "slot": tablet.slot_ids[0],
        "status": "complete",
        "count": 2,
        "place": "almaty",
        "language": "en",
        "answers": {},
        "started_at": "2024-05-02T10:00:00Z",
        "finished_at": "2024-05-02T10:12:00Z",
    }
    item.update(changes)
    return item


def post_body(tablet, body: str | bytes, content_type: str = "application/json"):
    return tablet.client.post(RESPONSES_URL, body, content_type=content_type)


def deeply_nested(depth: int) -> str:
    return '{"responses": [' + "[" * depth + "]" * depth + "]}"


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        pytest.param("[]", "non_field_errors", "Expected a dictionary", id="a-list"),
        pytest.param(
            '[{"responses": []}]', "non_field_errors", "dictionary", id="list-of-batch"
        ),
        pytest.param("42", "non_field_errors", "dictionary", id="a-number"),
        pytest.param("{}", "responses", "required", id="no-responses"),
        pytest.param(
            '{"responses": {"uuid": "x"}}', "responses", "list", id="an-object"
        ),
        pytest.param('{"responses": "many"}', "responses", "list", id="a-string"),
        pytest.param('{"responses": []}', "responses", "empty", id="an-empty-list"),
        pytest.param("{bad json", "detail", "JSON parse error", id="broken-json"),
        pytest.param(
            deeply_nested(100_000), "detail", "nested too deeply", id="nested-junk"
        ),
    ],
)
def test_a_batch_of_the_wrong_shape_is_a_400_naming_the_field(
    tablet, body, field, says
):
    before = tablet_rows()

    reply = post_body(tablet, body)

    assert reply.status_code == 400
    assert says in json.dumps(reply.json()[field])
    assert tablet_rows() == before


def test_a_body_that_is_not_utf8_is_a_400(tablet):
    before = tablet_rows()

    reply = post_body(tablet, '{"responses": [{"place": "Алматы"}]}'.encode("cp1251"))

    assert reply.status_code == 400
    assert "JSON parse error" in reply.json()["detail"]
    assert tablet_rows() == before


def test_a_batch_over_the_batch_limit_is_a_400_saying_the_limit(tablet, settings):
    items = [good_response(tablet, slot=tablet.slot_ids[0])] * (
        settings.SYNC_BATCH_MAX + 1
    )
    before = tablet_rows()

    reply = post_body(tablet, json.dumps({"responses": items}))

    assert reply.status_code == 400
    assert reply.json()["responses"] == [
        f"Send at most {settings.SYNC_BATCH_MAX} responses in one request."
    ]
    assert tablet_rows() == before


def test_a_huge_batch_of_junk_is_a_400_not_a_server_error(tablet):
    before = tablet_rows()

    reply = post_body(tablet, json.dumps({"responses": [{"junk": "x" * 100}] * 20_000}))

    assert reply.status_code == 400
    assert "Send at most" in reply.json()["responses"][0]
    assert tablet_rows() == before


def test_a_body_over_the_upload_limit_is_a_413_saying_the_limit(tablet, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    body = json.dumps({"responses": [good_response(tablet, place="x" * 3_000_000)]})
    before = tablet_rows()

    reply = post_body(tablet, body)

    assert reply.status_code == 413
    assert reply.json()["detail"].replace("\xa0", " ") == (
        "The request is larger than 2.0 MB; send fewer responses at a time."
    )
    assert tablet_rows() == before


HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"uuid": [1, 2]}, "uuid", id="uuid-a-list"),
        pytest.param({"uuid": "not-a-uuid"}, "uuid", id="uuid-not-a-uuid"),
        pytest.param({"slot": "first"}, "slot", id="slot-a-word"),
        pytest.param({"slot": [1]}, "slot", id="slot-a-list"),
        pytest.param({"slot": 0}, "slot", id="slot-zero"),
        pytest.param({"status": 5}, "status", id="status-a-number"),
        pytest.param({"status": "done"}, "status", id="status-unknown"),
        pytest.param({"count": "three"}, "count", id="count-a-word"),
        pytest.param({"count": 2.5}, "count", id="count-fractional"),
        pytest.param({"count": -1}, "count", id="count-negative"),
        pytest.param({"count": 10**30}, "count", id="count-enormous"),
        pytest.param({"count": {"a": 1}}, "count", id="count-an-object"),
        pytest.param({"answers": ["gender", "1"]}, "answers", id="answers-a-list"),
        pytest.param({"answers": "gender=1"}, "answers", id="answers-a-string"),
        pytest.param({"place": {"code": "almaty"}}, "place", id="place-an-object"),
        pytest.param({"place": HUGE}, "place", id="place-a-megabyte"),
        pytest.param({"language": HUGE}, "language", id="language-a-megabyte"),
        pytest.param({"started_at": 1714644000}, "started_at", id="time-a-number"),
        pytest.param({"finished_at": "tomorrow"}, "finished_at", id="time-a-word"),
        pytest.param({"answers": {"g\x00": "1"}}, "answers", id="a-null-character"),
    ],
)
def test_a_response_of_the_wrong_shape_is_rejected_naming_its_field(
    tablet, changes, field
):
    before = tablet_rows()

    [result] = tablet.sync(good_response(tablet, **changes))

    assert result["result"] == "rejected"
    assert list(result["errors"]) == [field]
    assert tablet_rows() == before


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        pytest.param({"count": 5}, "count", "from 0 to", id="count-over-j-plus-1"),
        pytest.param({"count": None}, "count", "from 0 to", id="complete-no-count"),
        pytest.param(
            {"status": "refused", "count": 1}, "count", "Only a complete", id="refusal"
        ),
        pytest.param({"slot": 10**9}, "slot", "not reserved", id="slot-unknown"),
        pytest.param({"place": "atlantis"}, "place", "not a known place", id="place"),
        pytest.param({"language": "de"}, "language", "no such language", id="lang"),
        pytest.param(
            {"answers": {"gender": {"a": [1, {"b": 2}]}}}, "answers", "", id="junk"
        ),
        pytest.param({"answers": {HUGE: "1"}}, "answers", "", id="huge-key"),
        pytest.param({"answers": {"age": HUGE}}, "answers", "", id="huge-number"),
        pytest.param({"answers": {"gender": HUGE}}, "answers", "", id="huge-code"),
        pytest.param({"answers": {"gender": "3"}}, "answers", "", id="unknown-code"),
    ],
)
def test_a_well_shaped_response_that_does_not_fit_its_slot_is_rejected(
    tablet, changes, field, says
):
    before = tablet_rows()

    [result] = tablet.sync(good_response(tablet, **changes))

    assert result["result"] == "rejected"
    assert list(result["errors"]) == [field]
    assert says in " ".join(result["errors"][field])
    assert tablet_rows() == before


def test_the_good_response_the_cases_start_from_is_stored(tablet):
    [result] = tablet.sync(good_response(tablet))

    assert result["result"] == "created"
    assert tablet_rows() == (3, 3, 3, 1)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="a-list"),
        pytest.param({"place": "almaty"}, id="no-count"),
        pytest.param({"place": "almaty", "count": "many"}, id="count-a-word"),
        pytest.param({"place": "almaty", "count": 0}, id="count-zero"),
        pytest.param({"place": "almaty", "count": 10**6}, id="count-over-the-max"),
        pytest.param({"place": "atlantis", "count": 1}, id="unknown-place"),
        pytest.param({"place": HUGE, "count": 1}, id="place-a-megabyte"),
    ],
)
def test_a_bad_reservation_is_a_400_and_reserves_nothing(tablet, body):
    reserved = AllocationSlot.objects.count()

    reply = tablet.client.post(
        reservations_url(tablet.wave), body, content_type="application/json"
    )

    assert reply.status_code == 400
    assert reply.json()
    assert AllocationSlot.objects.count() == reserved
