#!/usr/bin/env python3
"""Generates a deterministic contact-list CSV for the CSV parser benchmark.

Usage: python3 bench/gen_contacts.py --rows 260000 --seed 1 > contacts.csv

Columns: phone_number,first_name,last_name,email,company,notes. Phone numbers are valid E.164
numbers from a few countries. About 10% of the rows have quoted fields holding a comma, an
escaped quote ("") or a line break, and a few names are non-ASCII UTF-8, so the benchmark
exercises the slow paths as well. Lines end in CRLF as spreadsheets write them. The same seed
always gives the same bytes.
"""
import argparse
import random
import sys

FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
         "John", "Radia", "Edsger", "Sophie", "Donald", "Hedy", "Tim", "Katherine", "Guido",
         "Anita", "Bjarne"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
        "Allen", "McCarthy", "Perlman", "Dijkstra", "Wilson", "Knuth", "Lamarr", "Berners-Lee",
        "Johnson", "van Rossum", "Borg", "Stroustrup"]
# Non-ASCII names, used for about 5% of the rows, with the ASCII spelling for e-mail addresses.
INTL = [("José", "jose"), ("Zoë", "zoe"), ("Søren", "soren"), ("Chloé", "chloe"),
        ("Łukasz", "lukasz"), ("Renée", "renee"), ("Müller", "muller"), ("García", "garcia")]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Ent",
             "Cyberdyne", "Soylent", "Tyrell", "Wonka", "Vandelay"]
DOMAINS = ["example.com", "example.org", "mail.test", "corp.example"]
NOTES = ["call after 5pm", "prefers email", "VIP", "new lead", "follow up", "", "", ""]


def phone(rng):
    """Returns a valid E.164 number from one of a few numbering plans."""
    plan = rng.randrange(6)
    if plan == 0:  # NANP: NXX-NXX-XXXX
        return "+1%d%02d%d%02d%04d" % (rng.randint(2, 9), rng.randrange(100), rng.randint(2, 9),
                                       rng.randrange(100), rng.randrange(10000))
    if plan == 1:  # UK mobile
        return "+447%09d" % rng.randrange(10**9)
    if plan == 2:  # German mobile
        return "+491%d%d%07d" % (rng.choice([5, 6, 7]), rng.randint(0, 9), rng.randrange(10**7))
    if plan == 3:  # French mobile
        return "+33%d%08d" % (rng.choice([6, 7]), rng.randrange(10**8))
    if plan == 4:  # Indian mobile
        return "+91%d%09d" % (rng.randint(6, 9), rng.randrange(10**9))
    return "+614%08d" % rng.randrange(10**8)  # Australian mobile


def quote(field):
    return '"' + field.replace('"', '""') + '"'


def row(rng):
    first = rng.choice(FIRST)
    first_ascii = first.lower()
    if rng.random() < 0.05:
        first, first_ascii = rng.choice(INTL)
    last = rng.choice(LAST)
    email = "%s.%s%d@%s" % (first_ascii, last.lower().replace(" ", "").replace("-", ""),
                            rng.randrange(1000), rng.choice(DOMAINS))
    company = rng.choice(COMPANIES)
    notes = rng.choice(NOTES)
    fields = [phone(rng), first, last, email, company, notes]
    if rng.random() < 0.10:
        kind = rng.randrange(3)
        if kind == 0:
            fields[4] = quote(company + ", Inc.")
        elif kind == 1:
            fields[5] = quote('said "call me back" at %d:%02d' % (rng.randint(8, 18),
                                                                  rng.randrange(60)))
        else:
            fields[5] = quote("line one\r\nline two, with detail")
    return ",".join(fields)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=260000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = ["phone_number,first_name,last_name,email,company,notes"]
    out.extend(row(rng) for _ in range(args.rows))
    sys.stdout.buffer.write(("\r\n".join(out) + "\r\n").encode("utf-8"))


if __name__ == "__main__":
    main()
