#!/usr/bin/env python3
"""The PostGIS side of Haven's search benchmark (see benches/run.sh).

    postgis.py table  DATA.ndjson        CSV rows for COPY, one per located service_at_location
    postgis.py scripts QUERIES DIR       one pgbench script per query path
    postgis.py latency LOG...            p50 and p99 from pgbench --log files, in microseconds

The table holds what the benchmark's query filters on, read straight from the generated HSDS
records (not from Haven): the point, whether the service is active, its cost and accessibility
codes (a service's own, its service_at_location's and its location's attributes, and `free`
for a cost option of 0, as Haven reads them). The query is Haven's: within 10 km, any of
free/sliding_scale, wheelchair accessible, the nearest 20.
"""
import csv
import json
import sys
from urllib.parse import parse_qs, urlsplit


def codes(obj, taxonomy):
    out = set()
    for a in obj.get("attributes") or []:
        term = a.get("taxonomy_term") or {}
        if term.get("taxonomy") == taxonomy and term.get("code"):
            out.add(term["code"])
    return out


def pg_array(values):
    return "{" + ",".join(sorted(values)) + "}"


def table(path):
    out = csv.writer(sys.stdout)
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            s = json.loads(line)
            cost = codes(s, "haven-cost")
            if any(c.get("amount") == 0 for c in s.get("cost_options") or []):
                cost.add("free")
            access = codes(s, "haven-accessibility")
            for sal in s.get("service_at_locations") or []:
                loc = sal.get("location") or {}
                lat, lon = loc.get("latitude"), loc.get("longitude")
                if lat is None or lon is None:
                    continue
                out.writerow([
                    sal["id"], lat, lon, s.get("status") == "active",
                    pg_array(cost | codes(sal, "haven-cost") | codes(loc, "haven-cost")),
                    pg_array(access | codes(sal, "haven-accessibility") | codes(loc, "haven-accessibility")),
                ])


def scripts(queries, directory):
    with open(queries) as f:
        paths = [l.strip() for l in f if l.strip()]
    for i, p in enumerate(paths):
        q = parse_qs(urlsplit(p).query)
        lat, lon = float(q["lat"][0]), float(q["lon"][0])
        radius = float(q["proximity"][0])
        point = f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography"
        with open(f"{directory}/q{i:03}.sql", "w") as out:
            out.write(
                f"SELECT id FROM bench_place WHERE ST_DWithin(geog, {point}, {radius}) "
                "AND active AND cost && '{free,sliding_scale}'::text[] "
                "AND accessibility @> '{wheelchair}'::text[] "
                f"ORDER BY geog <-> {point} LIMIT 20;\n"
            )


def latency(logs):
    values = []
    for path in logs:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    values.append(int(parts[2]))
    values.sort()
    if not values:
        print("p50_us=0 p99_us=0 n=0")
        return
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    print(f"p50_us={pick(0.50)} p99_us={pick(0.99)} n={len(values)}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "table":
        table(sys.argv[2])
    elif cmd == "scripts":
        scripts(sys.argv[2], sys.argv[3])
    elif cmd == "latency":
        latency(sys.argv[2:])
    else:
        sys.exit(f"unknown command {cmd}")
