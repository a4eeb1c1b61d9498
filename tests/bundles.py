"""Reading searchset Bundles in tests: the matches, apart from includes and outcomes."""


def matches(bundle: dict) -> list[dict]:
    """The resources a search matched (search.mode = match), in order."""
    return [entry["resource"] for entry in bundle.get("entry", [])
            if entry.get("search", {}).get("mode", "match") == "match"]


def outcomes(bundle: dict) -> list[dict]:
    """What the server said about the search itself (search.mode = outcome)."""
    return [entry["resource"] for entry in bundle.get("entry", [])
            if entry.get("search", {}).get("mode") == "outcome"]
