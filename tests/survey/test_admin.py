"""The admin's change pages stay the same size whatever else is stored.

A select over a whole table (every item of every list experiment, every place, every
wave's strata) made each change page as heavy as the largest experiment or country in
the database; the pages offer only the object's own rows, and search for places and
users rather than listing them.
"""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fielding.models import Assignment, Respondent
from survey.demo import places_ensure
from survey.models import (
    CardText,
    Item,
    ItemList,
    ListExperiment,
    Region,
    Settlement,
    Survey,
    Wave,
)
from tests.survey.test_audit import form_data


def experiment_with_items(code: str, items: int) -> ListExperiment:
    """A new survey's list experiment: one list of ``items`` control items, each
    with an English text, and the instructions."""
    survey = Survey.objects.create(code=code, name=code, languages=["en"])
    experiment = ListExperiment.objects.create(survey=survey, code="list", name=code)
    item_list = ItemList.objects.create(experiment=experiment, code="A")
    rows = Item.objects.bulk_create(
        Item(
            experiment=experiment,
            item_list=item_list,
            code=f"{code}-item-{n}",
            kind=Item.CONTROL,
            position=n,
        )
        for n in range(1, items + 1)
    )
    CardText.objects.bulk_create(
        [CardText(experiment=experiment, language="en", text="Say how many")]
        + [
            CardText(experiment=experiment, item=item, language="en", text=item.code)
            for item in rows
        ]
    )
    return experiment


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def page_with_queries(client, url):
    """The page and the queries it took, once what a first request caches (content
    types, the session) is cached."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200
    return page, len(queries)


def options(page) -> int:
    return len(re.findall(r"<option\b", page.text))


def inline_forms(page, model):
    (formset,) = [
        inline.formset
        for inline in page.context["inline_admin_formsets"]
        if inline.formset.model is model
    ]
    return formset.forms


def test_the_experiment_page_does_not_grow_with_another_experiments_items(
    admin_client,
):
    small = experiment_with_items("small", 4)
    url = change_url(small)
    before, queries_before = page_with_queries(admin_client, url)

    experiment_with_items("large", 300)
    after, queries_after = page_with_queries(admin_client, url)

    assert queries_after == queries_before
    assert options(after) == options(before) + 1  # the other survey, in its select
    assert "large-item" not in after.text
    for form in inline_forms(after, CardText):
        offered = [label for _value, label in form.fields["item"].choices]
        assert offered == ["---------"] + [f"small-item-{n}" for n in range(1, 5)]


def test_the_experiment_page_reads_its_items_once_not_once_per_text(admin_client):
    url = change_url(experiment_with_items("few", 2))
    _page, few = page_with_queries(admin_client, url)

    url = change_url(experiment_with_items("many", 30))
    _page, many = page_with_queries(admin_client, url)

    assert many == few


def test_a_text_pointing_at_another_experiments_item_is_refused(admin_client):
    small = experiment_with_items("small", 2)
    foreign = experiment_with_items("other", 2).items.first()
    url = change_url(small)
    page = admin_client.get(url)
    data = form_data(page)
    forms = inline_forms(page, CardText)
    index = next(n for n, form in enumerate(forms) if form.instance.item_id)
    # Russian: the other experiment's item has no Russian text yet to clash with.
    data[f"texts-{index}-item"] = str(foreign.pk)
    data[f"texts-{index}-language"] = "ru"

    reply = admin_client.post(url, data)

    assert reply.status_code == 200
    (form,) = [f for f in inline_forms(reply, CardText) if f.errors]
    assert "item" in form.errors
    assert not CardText.objects.filter(item=foreign, language="ru").exists()


def test_the_experiment_page_saves_a_text_of_its_own_item(admin_client):
    small = experiment_with_items("small", 2)
    url = change_url(small)
    page = admin_client.get(url)
    data = form_data(page)
    forms = inline_forms(page, CardText)
    index = next(n for n, form in enumerate(forms) if form.instance.item_id)
    data[f"texts-{index}-text"] = "Reworded"

    reply = admin_client.post(url, data)

    assert reply.status_code == 302, reply.context and reply.context["errors"]
    assert CardText.objects.filter(experiment=small, text="Reworded").count() == 1


def many_places(n: int) -> None:
    region = Region.objects.create(name="Far away", code="far")
    Settlement.objects.bulk_create(
        Settlement(name=f"Village {i}", code=f"village-{i}", region=region)
        for i in range(n)
    )


def test_the_wave_page_searches_for_places_rather_than_listing_them(
    admin_client, small_wave
):
    places_ensure()
    stratum = small_wave.strata.create(code="capital", name="Capital")
    stratum.settlements.add(Settlement.objects.get(code="almaty"))
    url = change_url(small_wave)
    before, queries_before = page_with_queries(admin_client, url)

    many_places(300)
    after, queries_after = page_with_queries(admin_client, url)

    assert queries_after == queries_before
    assert options(after) == options(before)
    assert "Village 1" not in after.text
    assert "Almaty" in after.text


def test_the_respondent_page_offers_its_own_waves_strata_and_searches_places(
    admin_client, small_wave
):
    small_wave.strata.create(code="capital", name="Capital")
    respondent = Respondent.objects.filter(wave=small_wave).first()
    url = change_url(respondent)
    before, queries_before = page_with_queries(admin_client, url)

    many_places(300)
    elsewhere = experiment_with_items("elsewhere", 2).survey
    other = Wave.objects.create(survey=elsewhere, name="Another wave")
    other.strata.create(code="north", name="North of another wave")
    after, queries_after = page_with_queries(admin_client, url)

    assert queries_after == queries_before
    assert options(after) == options(before) + 1  # the other wave, in its select
    assert "North of another wave" not in after.text
    assert "Village 1" not in after.text
    form = after.context["adminform"].form
    assert list(form.fields["stratum"].queryset) == list(small_wave.strata.all())
    for form in inline_forms(after, Assignment):
        offered = set(form.fields["experiment"].queryset)
        assert offered == set(small_wave.survey.experiments.all())


def search(client, app_label: str, model_name: str, field_name: str, term: str):
    reply = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": app_label,
            "model_name": model_name,
            "field_name": field_name,
            "term": term,
        },
    )
    assert reply.status_code == 200, reply.content
    return [row["text"] for row in reply.json()["results"]]


def test_an_administrator_finds_places_and_interviewers_by_typing(
    admin_client, interviewer
):
    places_ensure()
    many_places(300)

    assert search(admin_client, "survey", "stratum", "settlements", "Alma") == [
        "Almaty"
    ]
    assert search(admin_client, "fielding", "respondent", "place", "Village 299") == [
        "Village 299"
    ]
    assert search(admin_client, "fielding", "respondent", "interviewer", "iva") == [
        "ivan"
    ]
