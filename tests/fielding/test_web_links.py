"""Web self-completion: single-use links made by an administrator, used once."""

import csv
import io

import pytest
from django.urls import reverse

from fielding.models import Respondent, Response, WebLink
from fielding.weblinks import weblinks_create


def start(client, token, **data):
    return client.post(reverse("fielding:web-start", args=[token]), data)


def test_an_administrator_downloads_n_links_as_csv(admin_client, demo_wave):
    stratum = demo_wave.strata.get(code="astana")

    response = admin_client.post(
        reverse("fielding:web-links", args=[demo_wave.pk]),
        {"n": 3, "stratum": stratum.pk},
    )

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and {r["stratum"] for r in rows} == {"astana"}
    assert all("/fielding/r/" in r["link"] for r in rows)
    assert WebLink.objects.filter(stratum=stratum).count() == 3


def test_only_a_hash_of_each_token_is_kept(demo_wave):
    (token,) = weblinks_create(wave=demo_wave, n=1)

    assert not WebLink.objects.filter(token_hash=token).exists()
    assert WebLink.objects.get().token_hash != token


def test_a_respondent_answers_in_russian_and_the_link_is_then_used_up(
    client, demo_wave
):
    (token,) = weblinks_create(wave=demo_wave, n=1)

    first = client.get(reverse("fielding:web-start", args=[token]) + "?language=ru")
    start(client, token, language="ru", consent="1")
    card = client.get(reverse("fielding:web-card", args=[token]))
    client.post(reverse("fielding:web-card", args=[token]), {"outcome": "3"})
    done = client.post(reverse("fielding:web-questions", args=[token]), {"gender": "1"})
    again = client.get(reverse("fielding:web-start", args=[token]))

    assert first.status_code == 200
    assert "Привлечение иностранных инвестиций" in card.text
    respondent = Respondent.objects.get(mode="web")
    assert respondent.language == "ru" and respondent.answers == {"gender": "1"}
    assert Response.objects.get(assignment__respondent=respondent).count == 3
    assert done.status_code == 200
    assert again.status_code == 410 and "<html" in again.text


def test_an_unknown_link_shows_a_plain_page(client, db):
    response = client.get(reverse("fielding:web-start", args=["not-a-token"]))

    assert response.status_code == 404
    assert "not known" in response.text and "Traceback" not in response.text


def test_without_consent_the_respondent_stays_on_the_first_page(client, demo_wave):
    (token,) = weblinks_create(wave=demo_wave, n=1)

    page = start(client, token, language="en")

    assert page.status_code == 200 and "nothing was recorded" in page.text
    assert not Respondent.objects.filter(mode="web").exists()


def test_reopening_an_unfinished_link_continues_the_same_interview(client, demo_wave):
    (token,) = weblinks_create(wave=demo_wave, n=1)
    start(client, token, language="en", consent="1")

    again = client.get(reverse("fielding:web-start", args=[token]))

    assert again.status_code == 302 and again.url.endswith("/card/")
    assert Respondent.objects.filter(mode="web").count() == 1


@pytest.mark.parametrize("n", [0, 10_001])
def test_link_counts_outside_the_limits_are_refused(admin_client, demo_wave, n):
    response = admin_client.post(
        reverse("fielding:web-links", args=[demo_wave.pk]), {"n": n}
    )

    assert response.status_code == 200 and not WebLink.objects.exists()


def test_a_wave_not_fielded_on_the_web_has_no_links(demo_wave):
    from fielding.errors import FieldingError
    from survey.models import Wave

    Wave.objects.filter(pk=demo_wave.pk).update(modes=["tablet"])
    demo_wave.refresh_from_db()

    with pytest.raises(FieldingError, match="not fielded on the web"):
        weblinks_create(wave=demo_wave, n=1)


@pytest.mark.parametrize("posted", [{}, {"outcome": "9"}])
def test_a_card_posted_without_a_valid_count_says_what_to_choose(
    client, demo_wave, posted
):
    (token,) = weblinks_create(wave=demo_wave, n=1)
    start(client, token, language="en", consent="1")

    page = client.post(reverse("fielding:web-card", args=[token]), posted)

    assert page.status_code == 200
    assert "Choose how many, or why there is no count." in page.text
    assert 'class="alert alert-danger"' in page.text
    assert not Response.objects.filter(assignment__respondent__mode="web").exists()
