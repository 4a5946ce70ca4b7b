#!/usr/bin/env python3
"""Generate a large, fictional, deterministic HSDS 3.0 data set for Haven's benchmarks.

Writes ndjson (one fully nested HSDS 3.0 `service` per line) to standard output:

    python3 benches/generate_services.py --services 100000 --seed 1 > services.ndjson
    haven import services.ndjson

With `--queries N` it instead writes N search paths (one per line) for the benchmark's
"10 km search with a cost and an accessibility filter", centred on the generated towns
with a few kilometres of jitter:

    /service_at_locations?lat=..&lon=..&proximity=10000&cost=free,sliding_scale&accessibility=wheelchair&per_page=20

The shape of the data:
- services cluster around 22 US towns and cities (a Gaussian spread of a few km around each
  centre, wider for bigger cities), with about 8% of locations scattered 15-60 km out;
- organisations (one per 30 services, so 3,333 for 100,000) each have 1-6 physical locations
  near their home town; a service is offered at one or two of its organisation's locations,
  so a location is shared by several services (as in real directories);
- attributes carry Haven's vocabularies by taxonomy + code (and the contract's term ids):
  haven-services (1-3 terms of data/taxonomy.csv), haven-cost (1-2), haven-accessibility
  (0-3, on the service and sometimes on the location), haven-low-barrier, haven-population,
  haven-delivery; cost_options match the cost terms (free -> amount 0); languages are en plus
  sometimes es, vi, zh, ar, fr, ht, ko, ru or ase; about 60% of service_at_locations have a
  weekly schedule.

Everything is made up: names are generated, phone numbers are in the fictional 555-01xx
range, web sites use the reserved .example domain, street numbers are invented.

Ids are UUID v5: N = uuid5(NAMESPACE_URL, "https://haven.example/bench/seed/<seed>") and each
object's id is uuid5(N, "<kind>:<index>..."). Taxonomy and term ids follow
shared/design/api.md: uuid5(uuid5(NAMESPACE_URL, "urn:hsds-taxonomy:" + taxonomy), code).

Python 3 standard library only. The same --services and --seed always give byte-identical output.
"""

import argparse
import csv
import json
import math
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TAXONOMY_CSV = os.path.join(HERE, "..", "data", "taxonomy.csv")

# name, state, latitude, longitude, postal code, weight (share of organisations), spread (km)
TOWNS = [
    ("Charlottesville", "VA", 38.0293, -78.4767, "22902", 2, 3.0),
    ("Richmond", "VA", 37.5407, -77.4360, "23219", 3, 4.5),
    ("Baltimore", "MD", 39.2904, -76.6122, "21201", 4, 5.0),
    ("Philadelphia", "PA", 39.9526, -75.1652, "19107", 6, 6.5),
    ("Pittsburgh", "PA", 40.4406, -79.9959, "15222", 3, 4.5),
    ("Boston", "MA", 42.3601, -71.0589, "02108", 5, 5.5),
    ("Chicago", "IL", 41.8781, -87.6298, "60601", 7, 7.0),
    ("Detroit", "MI", 42.3314, -83.0458, "48226", 4, 5.5),
    ("Columbus", "OH", 39.9612, -82.9988, "43215", 3, 5.0),
    ("Atlanta", "GA", 33.7490, -84.3880, "30303", 5, 6.5),
    ("Nashville", "TN", 36.1627, -86.7816, "37203", 3, 5.0),
    ("Denver", "CO", 39.7392, -104.9903, "80202", 4, 5.5),
    ("Phoenix", "AZ", 33.4484, -112.0740, "85004", 5, 7.0),
    ("Albuquerque", "NM", 35.0844, -106.6504, "87102", 2, 4.0),
    ("Seattle", "WA", 47.6062, -122.3321, "98101", 4, 5.0),
    ("Portland", "OR", 45.5152, -122.6784, "97204", 3, 4.5),
    ("San Francisco", "CA", 37.7749, -122.4194, "94102", 4, 3.5),
    ("Los Angeles", "CA", 34.0522, -118.2437, "90012", 7, 8.0),
    ("Minneapolis", "MN", 44.9778, -93.2650, "55401", 3, 5.0),
    ("Burlington", "VT", 44.4759, -73.2121, "05401", 1, 2.5),
    ("New Orleans", "LA", 29.9511, -90.0715, "70112", 3, 4.0),
    ("Huntington", "WV", 38.4192, -82.4452, "25701", 1, 2.5),
]

RURAL_SHARE = 0.08  # locations scattered 15-60 km from a town centre

STREETS = [
    "Main Street", "Market Street", "Church Street", "High Street", "Park Avenue",
    "Oak Street", "Maple Avenue", "Elm Street", "Washington Street", "Jefferson Street",
    "Broad Street", "Water Street", "Union Street", "Spring Street", "Center Street",
    "River Road", "Mill Road", "Grove Avenue", "Pine Street", "Cedar Street",
]

ORG_WORDS_A = [
    "Harbor", "Lantern", "Bridge", "Open Door", "Riverside", "Common Ground", "Northstar",
    "Safe Passage", "Kindred", "Crossroads", "Beacon", "Horizon", "Willow", "Keystone",
    "Hearth", "Compass", "Anchor", "Meadow", "Summit", "Mosaic",
]
ORG_WORDS_B = [
    "Harm Reduction Collective", "Recovery Center", "Health Services", "Community Clinic",
    "Outreach Project", "Peer Network", "Treatment Services", "Wellness Alliance",
    "Drop-in Center", "Care Cooperative",
]

# name, code, weight
LANGUAGES = [
    ("Spanish", "es", 25), ("Vietnamese", "vi", 5), ("Chinese", "zh", 4), ("Arabic", "ar", 3),
    ("French", "fr", 3), ("Haitian Creole", "ht", 2), ("Korean", "ko", 2), ("Russian", "ru", 2),
    ("American Sign Language", "ase", 3),
]

# Haven's filter vocabularies, with the names and descriptions Haven itself uses (src/vocab.rs).
VOCAB = {
    "haven-cost": [
        ("free", "Free", "No charge to the client."),
        ("sliding_scale", "Sliding scale", "Fees adjusted to the client's income."),
        ("medicaid", "Medicaid", "Accepts Medicaid."),
        ("medicare", "Medicare", "Accepts Medicare."),
        ("private_insurance", "Private insurance", "Accepts private health insurance."),
        ("pay_what_you_can", "Pay what you can", "Clients pay what they are able to, or nothing."),
    ],
    "haven-accessibility": [
        ("wheelchair", "Wheelchair accessible", "Step-free access for wheelchair users."),
        ("sign_language", "Sign language", "Staff or interpreters who sign."),
        ("interpreter", "Interpreter", "Spoken-language interpreting available."),
        ("hearing_loop", "Hearing loop", "An induction loop for hearing aids."),
        ("braille", "Braille", "Materials in braille."),
        ("accessible_restroom", "Accessible restroom", "A restroom usable by wheelchair users."),
    ],
    "haven-delivery": [
        ("in_person", "In person", "Delivered face to face at a location."),
        ("virtual", "Virtual", "Delivered by video or online."),
        ("phone", "Phone", "Delivered by telephone."),
        ("outreach", "Outreach", "Workers come to where people are."),
    ],
    "haven-low-barrier": [
        ("walk_in", "Walk-in", "No appointment needed."),
        ("no_id_required", "No ID required", "No identity document asked for."),
        ("anonymous", "Anonymous", "Can be used without giving a name."),
        ("no_abstinence_required", "No abstinence required",
         "Open to people who are using drugs or alcohol."),
        ("no_insurance_required", "No insurance required",
         "Open to people without health insurance."),
        ("no_referral_required", "No referral required",
         "Open without a referral from another provider."),
    ],
    "haven-population": [
        ("people_who_use_drugs", "People who use drugs", "Designed for people who use drugs."),
        ("youth", "Youth", "Designed for young people."),
        ("women", "Women", "Designed for women."),
        ("lgbtq", "LGBTQ+", "Designed for lesbian, gay, bisexual, trans and queer people."),
        ("sex_workers", "Sex workers", "Designed for people who sell sex."),
        ("veterans", "Veterans", "Designed for military veterans."),
        ("families", "Families", "Designed for families and children."),
        ("homeless", "People experiencing homelessness", "Designed for people without a home."),
    ],
}

LINK_TYPE = {
    "haven-services": "service_type",
    "haven-cost": "cost",
    "haven-accessibility": "accessibility",
    "haven-delivery": "delivery",
    "haven-low-barrier": "low-barrier",
    "haven-population": "population",
}

# Probability that a service carries each code (independent draws, then clamped to the ranges
# the brief asks for).
COST_WEIGHTS = {"free": 40, "sliding_scale": 20, "medicaid": 30, "medicare": 12,
                "private_insurance": 20, "pay_what_you_can": 8}
ACCESS_P = {"wheelchair": 0.55, "sign_language": 0.10, "interpreter": 0.25,
            "hearing_loop": 0.05, "braille": 0.04, "accessible_restroom": 0.40}
LOW_BARRIER_P = {"walk_in": 0.45, "no_id_required": 0.25, "anonymous": 0.15,
                 "no_abstinence_required": 0.30, "no_insurance_required": 0.30,
                 "no_referral_required": 0.50}
POPULATION_P = {"people_who_use_drugs": 0.35, "youth": 0.10, "women": 0.10, "lgbtq": 0.08,
                "sex_workers": 0.05, "veterans": 0.07, "families": 0.08, "homeless": 0.15}

SCHEDULES = [
    ("MO,TU,WE,TH,FR", "09:00", "17:00", "Monday to Friday, 9am to 5pm."),
    ("MO,TU,WE,TH,FR", "08:00", "20:00", "Monday to Friday, 8am to 8pm."),
    ("MO,WE,FR", "10:00", "16:00", "Monday, Wednesday and Friday, 10am to 4pm."),
    ("TU,TH", "12:00", "18:00", "Tuesday and Thursday, noon to 6pm."),
    ("SA,SU", "10:00", "14:00", "Weekends, 10am to 2pm."),
    ("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59", "Every day, around the clock."),
    ("MO,TU,WE,TH,FR,SA", "07:00", "15:00", "Monday to Saturday, 7am to 3pm."),
]


def taxonomy_id(taxonomy):
    return uuid.uuid5(uuid.NAMESPACE_URL, "urn:hsds-taxonomy:" + taxonomy)


def term_id(taxonomy, code):
    return str(uuid.uuid5(taxonomy_id(taxonomy), code))


def load_service_terms():
    """(leaf terms, categories by code) of haven-services, from data/taxonomy.csv."""
    with open(TAXONOMY_CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    leaves = [r for r in rows if r["parent_code"]]
    return leaves, {r["code"]: r for r in rows if not r["parent_code"]}


class Generator:
    def __init__(self, seed, services):
        self.seed = seed
        self.n_services = services
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/bench/seed/%d" % seed)
        self.rng = random.Random(seed)
        self.leaves, self.categories = load_service_terms()
        self.n_orgs = max(1, services // 30)
        self.towns_cum = []
        total = 0
        for t in TOWNS:
            total += t[5]
            self.towns_cum.append(total)
        self.orgs = [self.make_org(i) for i in range(self.n_orgs)]

    def id(self, kind, *parts):
        return str(uuid.uuid5(self.ns, ":".join([kind] + [str(p) for p in parts])))

    def pick_town(self, rng):
        x = rng.uniform(0, self.towns_cum[-1])
        for i, c in enumerate(self.towns_cum):
            if x <= c:
                return i
        return len(TOWNS) - 1

    @staticmethod
    def offset(lat, lon, dx_km, dy_km):
        dlat = dy_km / 111.32
        dlon = dx_km / (111.32 * math.cos(math.radians(lat)))
        return round(lat + dlat, 6), round(lon + dlon, 6)

    def make_location(self, rng, org_id, org_name, org_index, j, town_index):
        name, state, lat0, lon0, postcode, _, spread = TOWNS[town_index]
        if rng.random() < RURAL_SHARE:
            r = rng.uniform(15, 60)
            a = rng.uniform(0, 2 * math.pi)
            lat, lon = self.offset(lat0, lon0, r * math.cos(a), r * math.sin(a))
        else:
            lat, lon = self.offset(lat0, lon0, rng.gauss(0, spread), rng.gauss(0, spread))
        loc_id = self.id("location", org_index, j)
        street = "%d %s" % (rng.randint(1, 4999), rng.choice(STREETS))
        loc = {
            "id": loc_id,
            "location_type": "physical",
            "organization_id": org_id,
            "name": "%s site %d" % (org_name, j + 1),
            "latitude": lat,
            "longitude": lon,
            "addresses": [{
                "id": self.id("address", org_index, j),
                "location_id": loc_id,
                "address_1": street,
                "city": name,
                "state_province": state,
                "postal_code": postcode,
                "country": "US",
                "address_type": "physical",
            }],
        }
        # Some locations record accessibility themselves (Haven ORs them into the service's).
        loc_access = [c for c, p in (("wheelchair", 0.3), ("accessible_restroom", 0.2))
                      if rng.random() < p]
        if loc_access:
            loc["attributes"] = [self.attribute("location", loc_id, "haven-accessibility", c,
                                                "loc-attr", org_index, j, c)
                                 for c in loc_access]
        return loc

    def make_org(self, i):
        rng = random.Random("%d:org:%d" % (self.seed, i))
        town = self.pick_town(rng)
        name = "%s %s %s" % (TOWNS[town][0], rng.choice(ORG_WORDS_A), rng.choice(ORG_WORDS_B))
        name = "%s (%d)" % (name, i + 1)
        org_id = self.id("organization", i)
        slug = "org%d" % (i + 1)
        n_locations = min(6, 1 + int(rng.expovariate(0.6)))
        return {
            "index": i,
            "town": town,
            "org": {
                "id": org_id,
                "name": name,
                "description": "A fictional organisation generated for Haven's benchmarks, "
                               "based in %s, %s. (Fictional benchmark record.)"
                               % (TOWNS[town][0], TOWNS[town][1]),
                "website": "https://%s.haven-bench.example" % slug,
                "email": "hello@%s.haven-bench.example" % slug,
            },
            "locations": [self.make_location(rng, org_id, name, i, j, town) for j in range(n_locations)],
        }

    def attribute(self, entity, link_id, taxonomy, code, *id_parts):
        if taxonomy == "haven-services":
            row = next(r for r in self.leaves if r["code"] == code)
            name, description = row["name"], row["description"]
            parent = term_id(taxonomy, row["parent_code"])
        else:
            name, description = next((n, d) for c, n, d in VOCAB[taxonomy] if c == code)
            parent = None
        tid = term_id(taxonomy, code)
        term = {
            "id": tid,
            "code": code,
            "name": name,
            "description": description,
            "taxonomy": taxonomy,
            "language": "en",
            "taxonomy_id": str(taxonomy_id(taxonomy)),
        }
        if parent:
            term["parent_id"] = parent
        return {
            "id": self.id("attribute", *id_parts),
            "link_id": link_id,
            "taxonomy_term_id": tid,
            "link_type": LINK_TYPE[taxonomy],
            "link_entity": entity,
            "taxonomy_term": term,
        }

    def service(self, i):
        rng = self.rng
        org = self.orgs[rng.randrange(self.n_orgs)]
        sid = self.id("service", i)
        oid = org["org"]["id"]

        terms = rng.sample(self.leaves, rng.choice([1, 1, 2, 2, 2, 3]))
        main = terms[0]
        cost = [c for c, w in COST_WEIGHTS.items() if rng.random() < w / 100.0]
        if not cost:
            cost = [rng.choice(list(COST_WEIGHTS))]
        cost = cost[:2]
        access = [c for c, p in ACCESS_P.items() if rng.random() < p][:3]
        low = [c for c, p in LOW_BARRIER_P.items() if rng.random() < p][:3]
        pop = [c for c, p in POPULATION_P.items() if rng.random() < p][:2]
        delivery = ["in_person"] + [c for c, p in (("phone", 0.2), ("virtual", 0.1),
                                                   ("outreach", 0.1)) if rng.random() < p][:1]

        attributes = []
        for t in terms:
            attributes.append(self.attribute("service", sid, "haven-services", t["code"],
                                             "svc", i, t["code"]))
        for taxonomy, codes in (("haven-cost", cost), ("haven-accessibility", access),
                                ("haven-low-barrier", low), ("haven-population", pop),
                                ("haven-delivery", delivery)):
            for c in codes:
                attributes.append(self.attribute("service", sid, taxonomy, c, "svc", i, c))

        cost_options = []
        for c in cost:
            co = {"id": self.id("cost_option", i, c), "service_id": sid, "currency": "USD"}
            if c == "free":
                co.update(option="Free", amount=0, amount_description="No charge.")
            elif c == "sliding_scale":
                co.update(option="Sliding scale", amount=rng.choice([5, 10, 20, 40]),
                          amount_description="Lowest fee on the sliding scale.")
            elif c == "pay_what_you_can":
                co.update(option="Pay what you can", amount=0,
                          amount_description="Suggested donation; nobody is turned away.")
            else:
                name = next(n for k, n, _ in VOCAB["haven-cost"] if k == c)
                co.update(option=name, amount_description="Billed to %s." % name)
            cost_options.append(co)

        languages = [{"id": self.id("language", i, "en"), "service_id": sid,
                      "name": "English", "code": "en"}]
        for name, code, w in LANGUAGES:
            if rng.random() < w / 100.0:
                languages.append({"id": self.id("language", i, code), "service_id": sid,
                                  "name": name, "code": code})

        n_sal = 1 if (len(org["locations"]) == 1 or rng.random() < 0.7) else 2
        sals = []
        for k, loc in enumerate(rng.sample(org["locations"], n_sal)):
            sal_id = self.id("service_at_location", i, k)
            sal = {"id": sal_id, "service_id": sid, "location_id": loc["id"]}
            if rng.random() < 0.6:
                byday, opens, closes, desc = rng.choice(SCHEDULES)
                sal["schedules"] = [{
                    "id": self.id("schedule", i, k),
                    "service_at_location_id": sal_id,
                    "freq": "WEEKLY",
                    "byday": byday,
                    "opens_at": opens,
                    "closes_at": closes,
                    "description": desc,
                }]
            sal["location"] = loc
            sals.append(sal)

        service = {
            "id": sid,
            "organization_id": oid,
            "name": "%s (%s, #%d)" % (main["name"], TOWNS[org["town"]][0], i + 1),
            "description": "%s Offered by %s. (Fictional benchmark record.)"
                           % (main["description"], org["org"]["name"]),
            "status": "active",
            "url": "https://org%d.haven-bench.example/services/%d"
                   % (org["index"] + 1, i + 1),
            "phones": [{
                "id": self.id("phone", i),
                "service_id": sid,
                "number": "555-01%02d" % rng.randrange(100),
                "type": "voice",
            }],
            "service_at_locations": sals,
            "languages": languages,
            "organization": org["org"],
            "cost_options": cost_options,
            "attributes": attributes,
        }
        if "youth" in pop:
            service["minimum_age"] = 12
            service["maximum_age"] = 24
        elif rng.random() < 0.3:
            service["minimum_age"] = 18
        return service

    def run(self, out):
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for i in range(self.n_services):
            out.write(dumps(self.service(i)))
            out.write("\n")


def queries(seed, n):
    """n search paths: a 10 km search with a cost and an accessibility filter, centred on the
    towns (cycling through them) with a Gaussian jitter of about 2 km."""
    rng = random.Random("%d:queries" % seed)
    paths = []
    for q in range(n):
        name, _, lat0, lon0, _, _, _ = TOWNS[q % len(TOWNS)]
        lat, lon = Generator.offset(lat0, lon0, rng.gauss(0, 2.0), rng.gauss(0, 2.0))
        paths.append(
            "/service_at_locations?lat=%.5f&lon=%.5f&proximity=10000"
            "&cost=free,sliding_scale&accessibility=wheelchair&per_page=20" % (lat, lon))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=100000, help="services to write (100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (1)")
    ap.add_argument("--queries", type=int, metavar="N",
                    help="write N benchmark search paths instead of services")
    args = ap.parse_args()
    if args.services < 1:
        ap.error("--services must be at least 1")
    sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    out = sys.stdout
    if args.queries is not None:
        for p in queries(args.seed, args.queries):
            out.write(p + "\n")
        return
    Generator(args.seed, args.services).run(out)


if __name__ == "__main__":
    main()
