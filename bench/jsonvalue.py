#!/usr/bin/env python3
"""bench/jsonvalue.py: the benchmark's 100 KB compressible JSON value.

    jsonvalue.py [SIZE]      (default 102400) -> the value on stdout

A JSON array of user records such as an application caches: ids, a uuid,
names, emails, ages, balances, timestamps, booleans, a list of tags, a
nested address and a nested preferences object, so repeated keys and
vocabulary, but no single repeated phrase.  The last record carries a
"note" of words cut so that the whole value is exactly SIZE bytes (ASCII,
no newline).  Deterministic: the same bytes on every run and every Python
3 (its own xorshift generator with a fixed seed, not the random module).

Compressibility of the default 102,400 bytes (189 records), deflate level
6: 19,964 bytes with zlib, 19,564 with libdeflate (5.2x; level 1: 22,946).
libdeflate's level 6 takes about 750 µs for it on this project's VM, 5x the
140 µs it takes for bench/run.sh's repeated phrase (284x), whose long
matches are its easiest case.  Used by bench/run.sh (groups get100kj and
set100kj) and bench/profile.sh.
"""
import json
import sys

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 102400

_state = 0x9E3779B9


def rnd(n):
    """A number in [0, n): xorshift32, seeded above."""
    global _state
    x = _state
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _state = x
    return x % n


def pick(seq):
    return seq[rnd(len(seq))]


FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
         "Edsger", "Radia", "Donald", "Sophie", "Tim", "Hedy", "John", "Katherine", "Niklaus",
         "Shafi", "Leslie", "Anita", "Bjarne", "Mary", "Guido", "Jean", "Yukihiro", "Evelyn",
         "Whitfield", "Lynn", "Brian", "Carol", "Rasmus", "Adele", "Seymour", "Ivan", "Joan"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Allen", "Dijkstra", "Perlman", "Knuth", "Wilson", "Berners-Lee", "Lamarr",
        "McCarthy", "Johnson", "Wirth", "Goldwasser", "Lamport", "Borg", "Stroustrup",
        "Keller", "van Rossum", "Sammet", "Matsumoto", "Berezin", "Diffie", "Conway",
        "Kernighan", "Shaw", "Lerdorf", "Goldberg", "Papert", "Sutherland", "O'Neil"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.com", "example.io"]
CITIES = [("Springfield", "US"), ("Lyon", "FR"), ("Leipzig", "DE"), ("Osaka", "JP"),
          ("Porto", "PT"), ("Tampere", "FI"), ("Cordoba", "AR"), ("Hobart", "AU"),
          ("Gdansk", "PL"), ("Winnipeg", "CA"), ("Bergen", "NO"), ("Valencia", "ES")]
STREETS = ["Main St", "Oak Avenue", "Station Road", "Rue de la Paix", "Hauptstrasse",
           "Harbour Lane", "Mill Road", "Elm Street", "Church Street", "Park Drive"]
TAGS = ["admin", "beta", "newsletter", "premium", "trial", "support", "api", "mobile",
        "early-adopter", "verified", "churn-risk", "enterprise"]
PLANS = ["free", "basic", "pro", "team", "enterprise"]
LANGS = ["en", "fr", "de", "ja", "pt", "fi", "es", "pl", "no"]
THEMES = ["light", "dark", "system"]
WORDS = ["account", "migrated", "from", "legacy", "billing", "system", "after", "support",
         "ticket", "renewal", "pending", "review", "contact", "prefers", "email", "over",
         "phone", "invoice", "sent", "quarterly", "discount", "applied", "until", "next",
         "cycle", "the", "and", "of", "to", "requested", "export", "data", "closed"]


def stamp():
    return "2026-%02d-%02dT%02d:%02d:%02dZ" % (1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60))


def record(i):
    first, last = pick(FIRST), pick(LAST)
    city, country = pick(CITIES)
    login = "%s.%s%d" % (first.lower(), last.lower().replace(" ", "").replace("'", ""), rnd(100))
    return {
        "id": 100000 + i * 7 + rnd(7),
        "uuid": "%08x-%04x-4%03x-%04x-%012x" % (rnd(1 << 32), rnd(1 << 16), rnd(1 << 12),
                                                0x8000 | rnd(1 << 14), rnd(1 << 32) * 65536 + rnd(1 << 16)),
        "name": "%s %s" % (first, last),
        "email": "%s@%s" % (login, pick(DOMAINS)),
        "age": 18 + rnd(60),
        "balance": round(rnd(10000000) / 100, 2),
        "active": rnd(4) != 0,
        "verified": rnd(2) == 1,
        "created_at": stamp(),
        "last_login": stamp() if rnd(5) else None,
        "logins": rnd(5000),
        "score": round(rnd(1000000) / 1000000, 4),
        "tags": sorted({pick(TAGS) for _ in range(rnd(4))}),
        "address": {"street": "%d %s" % (1 + rnd(999), pick(STREETS)), "city": city,
                    "zip": "%05d" % rnd(100000), "country": country},
        "preferences": {"plan": pick(PLANS), "language": pick(LANGS), "theme": pick(THEMES),
                        "notifications": {"email": rnd(2) == 1, "sms": rnd(3) == 0}},
    }


def main():
    parts = []
    total = 2                                   # "[" and "]"
    i = 0
    while True:
        s = json.dumps(record(i))
        # keep room for the last record, whose note fills the rest
        if total + len(s) + 2 + 600 > SIZE:
            break
        parts.append(s)
        total += len(s) + (2 if i else 0)      # ", " between records
        i += 1
    last = {"id": 100000 + i * 7, "name": "%s %s" % (pick(FIRST), pick(LAST)),
            "active": False, "created_at": stamp(), "note": ""}
    room = SIZE - total - 2 - len(json.dumps(last))
    note = ""
    while len(note) < room:
        note += pick(WORDS) + " "
    last["note"] = note[:room].rstrip().ljust(room, ".")
    parts.append(json.dumps(last))
    out = "[" + ", ".join(parts) + "]"
    if len(out) != SIZE:
        sys.exit("jsonvalue.py: made %d bytes, not %d" % (len(out), SIZE))
    sys.stdout.write(out)


main()
