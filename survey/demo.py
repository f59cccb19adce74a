"""The founding survey: CSTO membership in Kazakhstan, 2022, as the demo.

The English card is the memo's own wording. The Russian and Kazakh texts are this
project's translations and are marked as awaiting review by a native speaker, in the
data, where an administrator sees them. The pilot wave is filled with simulated
respondents drawn from the memo's Table 1 (see ``fielding.simulation``).
"""

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from fielding.services import DEMO_SURVEY_CODE, responses_simulate
from survey.models import (
    CardText,
    Choice,
    CovariateQuestion,
    Item,
    ItemList,
    ListExperiment,
    Recode,
    Region,
    Settlement,
    Stratum,
    Survey,
    Wave,
)
from survey.roles import ADMINISTRATOR, ANALYST, INTERVIEWER, groups_ensure
from survey.services import wave_open

DEMO_SEED = 20220901
DEMO_RESPONDENTS = 1000

INSTRUCTIONS = {
    "en": (
        "I’m going to hand you a card that mentions various government policies, and I "
        "would like for you to tell me if you approve of those policies or not. Please, "
        "do not tell me which ones, only how many."
    ),
    "ru": (
        "Я дам вам карточку, на которой перечислены различные меры государственной "
        "политики. Скажите, пожалуйста, одобряете вы их или нет. Пожалуйста, не "
        "говорите, какие именно, — назовите только их количество."
    ),
    "kk": (
        "Мен сізге мемлекеттік саясаттың түрлі шаралары жазылған карточка беремін. "
        "Сол шараларды қолдайсыз ба, жоқ па, соны айтыңызшы. Өтінемін, қайсысы екенін "
        "айтпаңыз, тек қаншасы екенін ғана айтыңыз."
    ),
}

CONTROL_ITEMS = [
    (
        "foreign-investment",
        {
            "en": "Encouraging foreign investment in Kazakhstan’s economy.",
            "ru": "Привлечение иностранных инвестиций в экономику Казахстана.",
            "kk": "Қазақстан экономикасына шетелдік инвестиция тарту.",
        },
    ),
    (
        "eaeu",
        {
            "en": (
                "Continuing Kazakhstan’s membership in the Eurasian Economic Union, which "
                "currently includes four other countries: Armenia, Belarus, Kyrgyzstan, "
                "and Russia."
            ),
            "ru": (
                "Сохранение членства Казахстана в Евразийском экономическом союзе, в "
                "который сейчас входят ещё четыре страны: Армения, Беларусь, Кыргызстан "
                "и Россия."
            ),
            "kk": (
                "Қазақстанның Еуразиялық экономикалық одаққа мүшелігін жалғастыру; "
                "қазір оған тағы төрт ел кіреді: Армения, Беларусь, Қырғызстан және "
                "Ресей."
            ),
        },
    ),
    (
        "tourism",
        {
            "en": (
                "Promoting tourism to bring more attention to Kazakhstan’s rich cultural "
                "heritage"
            ),
            "ru": (
                "Развитие туризма, чтобы привлечь больше внимания к богатому культурному "
                "наследию Казахстана."
            ),
            "kk": (
                "Қазақстанның бай мәдени мұрасына көбірек назар аудару үшін туризмді "
                "дамыту."
            ),
        },
    ),
    (
        "open-borders",
        {
            "en": (
                "Maintaining open borders to allow labor migrants to work freely in "
                "Kazakhstan."
            ),
            "ru": (
                "Сохранение открытых границ, чтобы трудовые мигранты могли свободно "
                "работать в Казахстане."
            ),
            "kk": (
                "Еңбек мигранттары Қазақстанда еркін жұмыс істей алуы үшін шекараны "
                "ашық ұстау."
            ),
        },
    ),
]

SENSITIVE_ITEM = (
    "csto",
    {
        "en": (
            "Continuing Kazakhstan’s membership in the Collective Security Treaty "
            "Organization (CSTO), which currently includes five other countries: Armenia, "
            "Belarus, Kyrgyzstan, Russia, and Tajikistan."
        ),
        "ru": (
            "Сохранение членства Казахстана в Организации Договора о коллективной "
            "безопасности (ОДКБ), в которую сейчас входят ещё пять стран: Армения, "
            "Беларусь, Кыргызстан, Россия и Таджикистан."
        ),
        "kk": (
            "Қазақстанның Ұжымдық қауіпсіздік туралы шарт ұйымына (ҰҚШҰ) мүшелігін "
            "жалғастыру; қазір оған тағы бес ел кіреді: Армения, Беларусь, Қырғызстан, "
            "Ресей және Тәжікстан."
        ),
    },
)

QUESTIONS = [
    (
        "gender",
        {
            "en": "Gender of the respondent",
            "ru": "Пол респондента",
            "kk": "Респонденттің жынысы",
        },
        [
            ("1", {"en": "Male", "ru": "Мужской", "kk": "Ер"}),
            ("2", {"en": "Female", "ru": "Женский", "kk": "Әйел"}),
        ],
    ),
    (
        "education",
        {
            "en": "What is your level of education?",
            "ru": "Какое у вас образование?",
            "kk": "Сіздің біліміңіз қандай?",
        },
        [
            (
                "1",
                {
                    "en": "7th grade or lower",
                    "ru": "7 классов или меньше",
                    "kk": "7 сынып немесе одан төмен",
                },
            ),
            (
                "2",
                {
                    "en": "Secondary education (8-9th grade)",
                    "ru": "Неполное среднее (8–9 классов)",
                    "kk": "Толық емес орта білім (8–9 сынып)",
                },
            ),
            (
                "3",
                {
                    "en": "Full general secondary education",
                    "ru": "Полное общее среднее",
                    "kk": "Жалпы орта білім",
                },
            ),
            (
                "4",
                {
                    "en": "Secondary specialized education (trade school)",
                    "ru": "Среднее специальное (техникум, колледж)",
                    "kk": "Арнаулы орта білім (техникум, колледж)",
                },
            ),
            (
                "5",
                {
                    "en": "Incomplete higher education",
                    "ru": "Неполное высшее",
                    "kk": "Аяқталмаған жоғары білім",
                },
            ),
            (
                "6",
                {"en": "Full higher education", "ru": "Высшее", "kk": "Жоғары білім"},
            ),
        ],
    ),
    (
        "ethnicity",
        {
            "en": "What is your ethnicity?",
            "ru": "Ваша национальность?",
            "kk": "Ұлтыңыз кім?",
        },
        [
            ("kazakh", {"en": "Kazakh", "ru": "Казах / казашка", "kk": "Қазақ"}),
            ("russian", {"en": "Russian", "ru": "Русский / русская", "kk": "Орыс"}),
            ("other", {"en": "Other", "ru": "Другая", "kk": "Басқа"}),
        ],
    ),
]
AGE_QUESTION = {
    "en": "How old are you?",
    "ru": "Сколько вам полных лет?",
    "kk": "Сіз неше жастасыз?",
}

UNIVERSITY_RECODE = {
    "1": "secondary_or_less",
    "2": "secondary_or_less",
    "3": "secondary_or_less",
    "4": "secondary_or_less",
    "5": "university",
    "6": "university",
}

UNIVERSITY_LABELS = {
    "secondary_or_less": {
        "en": "Secondary or less",
        "ru": "Среднее и ниже",
        "kk": "Орта және одан төмен",
    },
    "university": {"en": "University", "ru": "Высшее", "kk": "Жоғары"},
}

# (region code, region name, [(settlement code, name, kind)]). Official codes are left
# empty: this project does not hold a verified copy of the national classifier.
PLACES = [
    ("almaty-city", "Almaty (city)", [("almaty", "Almaty", Settlement.CITY)]),
    (
        "astana-city",
        "Astana (city)",
        [("astana", "Astana (Nur-Sultan in 2022)", Settlement.CITY)],
    ),
    ("shymkent-city", "Shymkent (city)", [("shymkent", "Shymkent", Settlement.CITY)]),
    ("karaganda", "Karaganda Region", [("karaganda", "Karaganda", Settlement.CITY)]),
    ("aktobe", "Aktobe Region", [("aktobe", "Aktobe", Settlement.CITY)]),
    ("pavlodar", "Pavlodar Region", [("pavlodar", "Pavlodar", Settlement.CITY)]),
    (
        "east-kazakhstan",
        "East Kazakhstan Region",
        [("oskemen", "Oskemen", Settlement.CITY)],
    ),
    ("kostanay", "Kostanay Region", [("kostanay", "Kostanay", Settlement.CITY)]),
    (
        "almaty-region",
        "Almaty Region",
        [
            ("talgar", "Talgar", Settlement.CITY),
            ("shamalgan", "Shamalgan", Settlement.VILLAGE),
        ],
    ),
    ("turkistan", "Turkistan Region", [("turkistan", "Turkistan", Settlement.CITY)]),
]

WAVE_DESCRIPTION = (
    "Demo: the 2022 pilot's design with 1,000 SIMULATED respondents, drawn from the "
    "memo's Table 1 (arm means per group). Three of the memo's rows do not add up; for "
    "them the control mean is kept and the treatment mean set so the difference is the "
    "memo's percentage: Kazakh 2.83 -> 3.253 (42.3%), Almaty 2.81 -> 3.08 (27.0%), all "
    "other places 2.81 -> 3.446 (63.6%)."
)

DEMO_USERS = [
    ("admin", "admin-demo", ADMINISTRATOR),
    ("analyst", "analyst-demo", ANALYST),
    ("interviewer", "interviewer-demo", INTERVIEWER),
]


def demo_users_ensure() -> list[tuple[str, str, str]]:
    groups = groups_ensure()
    User = get_user_model()
    for username, password, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.is_staff = role == ADMINISTRATOR
            user.save()
        user.groups.add(groups[role])
    return DEMO_USERS


def places_ensure() -> None:
    for region_code, region_name, settlements in PLACES:
        region, _created = Region.objects.get_or_create(
            code=region_code, defaults={"name": region_name}
        )
        for code, name, kind in settlements:
            Settlement.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "region": region}
            )


def texts_create(experiment, item, texts: dict[str, str]) -> None:
    CardText.objects.bulk_create(
        CardText(
            experiment=experiment,
            item=item,
            language=language,
            text=text,
            needs_review=language != "en",
        )
        for language, text in texts.items()
    )


def survey_create() -> Survey:
    survey = Survey.objects.create(
        code=DEMO_SURVEY_CODE,
        name="Kazakhstan: support for CSTO membership (2022)",
        languages=["en", "ru", "kk"],
        description=(
            "The founding case: a list experiment on continued membership in the CSTO, "
            "piloted 1-14 September 2022. Russian and Kazakh texts await review by a "
            "native speaker."
        ),
    )
    experiment = ListExperiment.objects.create(
        survey=survey, code="csto", name="Support for CSTO membership"
    )
    card = ItemList.objects.create(experiment=experiment, code="A")
    texts_create(experiment, None, INSTRUCTIONS)
    for position, (code, texts) in enumerate(CONTROL_ITEMS, start=1):
        item = Item.objects.create(
            experiment=experiment,
            item_list=card,
            code=code,
            kind=Item.CONTROL,
            position=position,
        )
        texts_create(experiment, item, texts)
    code, texts = SENSITIVE_ITEM
    sensitive = Item.objects.create(
        experiment=experiment, code=code, kind=Item.SENSITIVE
    )
    texts_create(experiment, sensitive, texts)

    for position, (code, wording, choices) in enumerate(QUESTIONS, start=1):
        question = CovariateQuestion.objects.create(
            survey=survey,
            code=code,
            position=position,
            texts=wording,
            needs_review=["ru", "kk"],
        )
        Choice.objects.bulk_create(
            Choice(question=question, code=choice, position=n, labels=labels)
            for n, (choice, labels) in enumerate(choices, start=1)
        )
        if code == "education":
            Recode.objects.create(
                survey=survey,
                question=question,
                name="university",
                mapping=UNIVERSITY_RECODE,
                labels=UNIVERSITY_LABELS,
            )
    CovariateQuestion.objects.create(
        survey=survey,
        code="age",
        kind=CovariateQuestion.NUMERIC,
        position=len(QUESTIONS) + 1,
        texts=AGE_QUESTION,
        needs_review=["ru", "kk"],
        min_value=18,
        max_value=100,
    )
    return survey


def pilot_wave_create(survey: Survey) -> Wave:
    wave = Wave.objects.create(
        survey=survey,
        name="Pilot, September 2022 (simulated responses)",
        description=WAVE_DESCRIPTION,
        modes=[Wave.TABLET, Wave.WEB],
        starts_on=datetime.date(2022, 9, 1),
        ends_on=datetime.date(2022, 9, 14),
        cluster=Wave.CLUSTER_NONE,
    )
    for position, (code, name, settlement) in enumerate(
        [
            ("almaty", "Almaty", "almaty"),
            ("astana", "Astana", "astana"),
            ("other", "All others", None),
        ],
        start=1,
    ):
        stratum = Stratum.objects.create(
            wave=wave,
            code=code,
            name=name,
            is_rest=settlement is None,
            position=position,
        )
        if settlement:
            stratum.settlements.add(Settlement.objects.get(code=settlement))
    return wave


NATIONAL_DESCRIPTION = (
    "Draft: the memo's next step, a full national sample with oversamples in Almaty "
    "and Astana, to test whether support declined and whether it is lower where the "
    "CSTO troops were deployed. Quotas give each capital a fifth of the sample; the "
    "design weights restore their shares of the adult population (Almaty about 11%, "
    "Astana about 7%). Plan it from the pilot on the wave planner before opening it."
)

# Stratum code, name, settlement, quota, design weight: (population share) / (sample
# share), so the weighted sample has the country's proportions.
NATIONAL_STRATA = [
    ("almaty", "Almaty", "almaty", 800, 0.556),
    ("astana", "Astana", "astana", 800, 0.354),
    ("other", "All others", None, 2400, 1.364),
]


def national_wave_create(survey: Survey) -> Wave:
    """The national wave with oversamples in both capitals, left as a draft."""
    wave = Wave.objects.create(
        survey=survey,
        name="National wave 2023 with oversamples (draft)",
        description=NATIONAL_DESCRIPTION,
        modes=[Wave.TABLET],
        starts_on=datetime.date(2023, 9, 1),
        ends_on=datetime.date(2023, 10, 15),
        plan={"kind": "blocked", "ratio": [1, 1], "block_sizes": [4, 6]},
        cluster=Wave.CLUSTER_NONE,
    )
    for position, (code, name, settlement, quota, weight) in enumerate(
        NATIONAL_STRATA, start=1
    ):
        stratum = Stratum.objects.create(
            wave=wave,
            code=code,
            name=name,
            is_rest=settlement is None,
            quota=quota,
            design_weight=weight,
            position=position,
        )
        if settlement:
            stratum.settlements.add(Settlement.objects.get(code=settlement))
    return wave


def demo_load() -> Wave | None:
    """Load the founding survey and its pilot wave once; None if already there."""
    demo_users_ensure()
    places_ensure()
    if Survey.objects.filter(code=DEMO_SURVEY_CODE).exists():
        return None
    with transaction.atomic():
        survey = survey_create()
        wave = pilot_wave_create(survey)
        wave = wave_open(wave=wave, seed=DEMO_SEED)
        wave.interviewers.add(get_user_model().objects.get(username="interviewer"))
        responses_simulate(wave=wave, n=DEMO_RESPONDENTS, seed=DEMO_SEED)
        national_wave_create(survey)
    return wave
