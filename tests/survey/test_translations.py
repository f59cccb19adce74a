"""The Russian and Kazakh catalogues: complete, compiled, and shown to respondents.

Interviewers work in Russian or Kazakh and respondents read the screens in the
interview's language, so a message without a translation is a page that ships half in
English. The first test extracts the messages afresh from a copy of the sources, so it
fails as soon as a page gains a message nobody translated.
"""

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from fielding.allocation import respondent_register, slot_allocate
from fielding.weblinks import weblinks_create
from survey.models import Settlement

PROJECT = Path(settings.BASE_DIR)
LOCALE = PROJECT / "locale"
LANGUAGES = ["ru", "kk"]

# Not the project's messages: installed packages, runtime data, collected and
# vendored static files, and the tests' own strings.
NOT_SOURCES = [".venv", "var", "staticfiles", "static", "tests"]
GETTEXT_TOOLS = ["xgettext", "msguniq", "msgmerge", "msgattrib"]


@pytest.fixture(autouse=True)
def english_afterwards():
    """Views activate the interview's language for the rest of the thread; undo it."""
    yield
    translation.deactivate()


def catalogue(root: Path, language: str) -> polib.POFile:
    return polib.pofile(str(root / language / "LC_MESSAGES" / "django.po"))


def sources_copy(destination: Path) -> Path:
    """Every top-level file and folder of the project that may hold messages."""
    destination.mkdir()
    for entry in PROJECT.iterdir():
        if entry.name.startswith(".") or entry.name in NOT_SOURCES:
            continue
        if entry.is_dir():
            shutil.copytree(
                entry,
                destination / entry.name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(entry, destination / entry.name)
    return destination


def needs_work(entry: polib.POEntry) -> bool:
    return entry.fuzzy or not entry.translated()


def described(language: str, entry: polib.POEntry) -> str:
    where = ", ".join(f"{path}:{line}" for path, line in entry.occurrences)
    state = "fuzzy" if entry.fuzzy else "untranslated"
    return f"{language} ({state}) {entry.msgid!r} at {where}"


def test_every_message_of_the_project_is_translated_into_russian_and_kazakh(tmp_path):
    missing_tools = [tool for tool in GETTEXT_TOOLS if shutil.which(tool) is None]
    if missing_tools:
        pytest.fail(
            f"GNU gettext is needed to extract the messages ({', '.join(missing_tools)} "
            "not found). Install it with `apt-get install -y gettext`."
        )
    copy = sources_copy(tmp_path / "project")

    # The copy's settings put var/ beside the copy, so the run writes nothing of ours.
    env = {**os.environ, "TESTING": "1", "VAR_DIR": str(tmp_path / "var")}
    command = [sys.executable, "manage.py", "makemessages", "--no-obsolete"]
    command += [f"-l{language}" for language in LANGUAGES]
    command += [f"--ignore={name}" for name in NOT_SOURCES]
    run = subprocess.run(
        command, cwd=copy, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr

    problems = [
        described(language, entry)
        for language in LANGUAGES
        for entry in catalogue(copy / "locale", language)
        if not entry.obsolete and needs_work(entry)
    ]
    assert not problems, (
        "Messages without a finished translation; run makemessages, translate them "
        "in locale/<language>/LC_MESSAGES/django.po and run compilemessages:\n"
        + "\n".join(problems)
    )


def compiled_text(compiled: gettext.GNUTranslations, entry: polib.POEntry, n=None):
    if entry.msgid_plural:
        if entry.msgctxt:
            return compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
        return compiled.ngettext(entry.msgid, entry.msgid_plural, n)
    if entry.msgctxt:
        return compiled.pgettext(entry.msgctxt, entry.msgid)
    return compiled.gettext(entry.msgid)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogues_match_their_sources(language):
    folder = LOCALE / language / "LC_MESSAGES"
    with open(folder / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    stale = []
    for entry in catalogue(LOCALE, language).translated_entries():
        if entry.msgid_plural:
            # Counts 0 to 111 reach every plural form of both languages.
            for n in range(112):
                want = entry.msgstr_plural[compiled.plural(n)]
                if compiled_text(compiled, entry, n) != want:
                    stale.append(f"{entry.msgid!r} (n = {n})")
                    break
        elif compiled_text(compiled, entry) != entry.msgstr:
            stale.append(repr(entry.msgid))

    assert not stale, (
        f"locale/{language}/LC_MESSAGES/django.mo is older than its .po; run "
        "compilemessages. Differing: " + "; ".join(stale)
    )


def test_interview_pages_are_in_kazakh_when_the_interview_is(
    demo_wave, interviewer, interviewer_client
):
    demo_wave.interviewers.add(interviewer)
    new_interview = reverse("fielding:interview-new", args=[demo_wave.pk])

    registration = interviewer_client.get(new_interview, HTTP_ACCEPT_LANGUAGE="kk")
    respondent = respondent_register(
        wave=demo_wave,
        consented=True,
        interviewer=interviewer,
        place=Settlement.objects.get(code="almaty"),
        language="kk",
    )
    slot_allocate(respondent=respondent, user=interviewer)
    # The interviewer's own browser asks for English; the interview's language wins.
    card = interviewer_client.get(
        reverse("fielding:interview-card", args=[respondent.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "Жаңа сұхбат" in registration.text
    assert "Сұхбат орны" in registration.text
    assert "Тіркеу және карточканы көрсету" in registration.text
    assert "Register and show the card" not in registration.text
    assert "Place of interview" not in registration.text
    assert "Қаншасы?" in card.text and "How many?" not in card.text
    assert "Жауап беруден бас тартты" in card.text and "Refused" not in card.text
    assert "Қайсысы екенін айтпаңыз, тек қаншасы екенін айтыңыз." in card.text
    assert "Please do not say which ones" not in card.text


def test_web_self_completion_pages_are_in_russian_when_the_respondent_chooses_it(
    client, demo_wave
):
    (token,) = weblinks_create(wave=demo_wave, n=1)
    start = reverse("fielding:web-start", args=[token])

    welcome = client.get(start + "?language=ru", HTTP_ACCEPT_LANGUAGE="en")
    client.post(start, {"language": "ru", "consent": "1"})
    card = client.get(reverse("fielding:web-card", args=[token]))

    assert "Я даю согласие на участие." in welcome.text
    assert "I agree to take part." not in welcome.text
    assert "Начать" in welcome.text and ">Start<" not in welcome.text
    assert "Сколько?" in card.text and "How many?" not in card.text
    assert "Затрудняюсь ответить" in card.text and "Refused" not in card.text
