"""'Did you mean ...?' suggestions for misspelled names."""
from vergeml.settings.spelling import canonical


def edit_distance(a, b):
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def did_you_mean(word, candidates, max_distance=2):
    """Return the closest candidate to ``word``, or None.

    Hyphens and underscores count as the same character, so ``learning_rat``
    suggests ``learning-rate``.

    Args:
        word: the misspelled name.
        candidates: the valid names.
        max_distance: the largest edit distance still worth suggesting.

    Returns:
        The best candidate (ties broken alphabetically), or None.
    """
    key = canonical(word)
    scored = []
    for name in candidates:
        distance = edit_distance(key, canonical(name))
        limit = max(max_distance, len(key) // 4)
        # A candidate that keeps no character of the word (``x`` -> ``ls``) is no suggestion.
        if distance <= limit and distance < max(len(key), len(canonical(name))):
            scored.append((distance, name))
    return min(scored)[1] if scored else None


def suggestion(word, candidates, prefix=""):
    """Return `` Did you mean 'X'?`` text (with a leading space) or ''."""
    best = did_you_mean(word, candidates)
    return f" Did you mean '{prefix}{best}'?" if best else ""
