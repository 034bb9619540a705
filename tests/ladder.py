"""The reading of the source documents in framework-ladder.md, as data the tests compare against."""

# Competency: the levels it defines.
LEVELS_DEFINED = {
    "achieving-results": [2, 3, 4],
    "customer-care": [1, 2, 3, 4],
    "effective-communication": [2, 3, 4],
    "partnership-and-teamwork": [1, 2, 3, 4],
    "personal-and-professional-development": [1, 2, 3, 4],
    "service-area-expertise": [1, 2, 3, 4],
    "recovery-orientated-practice": [2, 3, 4, 5],
    "working-with-change": [2, 3, 4, 5],
    "organisation-and-sector-awareness": [2, 3, 4, 5],
    "policy-procedure-and-practice": [2, 3, 4, 5],
    "releasing-potential": [1, 2, 3],
}

# Levels that are the sustained-level rule, not indicators.
SUSTAINED_RULES = {("organisation-and-sector-awareness", 5), ("policy-procedure-and-practice", 5)}

# Role profile: {competency: entry level} ("Windows each role requires").
WINDOWS = {
    "support-worker-supported-housing": {
        "achieving-results": 2,
        "customer-care": 2,
        "effective-communication": 2,
        "partnership-and-teamwork": 1,
        "personal-and-professional-development": 1,
        "service-area-expertise": 1,
        "recovery-orientated-practice": 2,
        "working-with-change": 2,
        "organisation-and-sector-awareness": 2,
        "policy-procedure-and-practice": 2,
    },
    "housing-worker": {
        "achieving-results": 2,
        "customer-care": 1,
        "effective-communication": 2,
        "partnership-and-teamwork": 1,
        "personal-and-professional-development": 1,
        "service-area-expertise": 2,
        "recovery-orientated-practice": 2,
        "working-with-change": 2,
        "organisation-and-sector-awareness": 2,
    },
    "night-senior-support-worker": {
        "achieving-results": 2,
        "customer-care": 2,
        "effective-communication": 2,
        "partnership-and-teamwork": 1,
        "personal-and-professional-development": 1,
        "service-area-expertise": 1,
        "recovery-orientated-practice": 2,
        "working-with-change": 2,
        "organisation-and-sector-awareness": 2,
        "policy-procedure-and-practice": 2,
        "releasing-potential": 1,
    },
    "senior-service-coordinator-afeo": {
        "achieving-results": 2,
        "customer-care": 2,
        "effective-communication": 2,
        "partnership-and-teamwork": 2,
        "personal-and-professional-development": 1,
        "service-area-expertise": 2,
        "recovery-orientated-practice": 3,
        "working-with-change": 3,
        "organisation-and-sector-awareness": 3,
        "policy-procedure-and-practice": 3,
    },
    "recovery-coach-somerset": {
        "achieving-results": 2,
        "customer-care": 2,
        "effective-communication": 2,
        "partnership-and-teamwork": 2,
        "personal-and-professional-development": 2,
        "service-area-expertise": 2,
        "recovery-orientated-practice": 2,
        "working-with-change": 2,
        "organisation-and-sector-awareness": 2,
        "policy-procedure-and-practice": 3,
    },
}

# Documents that print no level numbers: their windows are inferred.
INFERRED = {"housing-worker", "recovery-coach-somerset"}
