"""Re-derive an SSJ-DRAW-1 bundle with the Python standard library alone (docs/ssj-draw-1.md).

Usage: python verify_stdlib.py BUNDLE.json   -> exit 0 if the pool digest, sizes, selection,
alternates, replacements and record digest re-derive exactly; else print what differs, exit 1.
Seed provenance and teams are not checked here (see shuangsuiji.bundle.verify_bundle).
"""

import hashlib
import json
import sys
from fractions import Fraction
from itertools import pairwise

with open(sys.argv[1], encoding="utf-8") as f:
    b = json.load(f)
cs = b["ticket_scheme"] == "consistent_sampler"
key = hashlib.sha256(b"SSJ-DRAW-1\0%s\0%s" % (b["task_label"].encode(), bytes.fromhex(b["seed"])))
key = key.digest()
lines = sorted((c["id"].encode(), c["stratum"].encode()) for c in b["candidates"])
digest = hashlib.sha256(b"".join(i + b"\t" + s + b"\n" for i, s in lines)).hexdigest()
prefix = hashlib.sha256(key.hex().encode()).hexdigest().encode() if cs else key
groups = {s: [] for s in b["strata"]}
for i, s in lines:
    t = hashlib.sha256(prefix + i).digest()  # consistent_sampler orders by reversed decimal digits
    groups.setdefault(s.decode(), []).append((f"{int(t.hex(), 16):064d}"[::-1] if cs else t, i, t))
selected, alternates, sizes = [], [], {}
for s in sorted(groups, key=str.encode):
    rule, ranked, n_all = b["strata"].get(s, {}).get("rule", {}), sorted(groups[s]), len(groups[s])
    if rule.get("ratio") is not None:
        n = -(-Fraction(rule["ratio"]) * n_all // 1)  # exact ceil(r * N)
    else:
        n = rule.get("count", 0)
    n = min(n_all, max(rule.get("minimum", 0), n))
    n = n if rule.get("maximum") is None else min(rule["maximum"], n)
    m = min(n_all - n, rule.get("alternates", 0))
    sizes[s] = {"size": n_all, "sample": n, "alternates": m, "rule": rule}
    pick = [{"id": i.decode(), "stratum": s, "ticket": t.hex()} for _, i, t in ranked[: n + m]]
    selected, alternates = selected + pick[:n], alternates + pick[n:]
reasons = {"deregistered_before_draw", "not_found_at_address", "duplicate_record", "other"}
active, used, replacements_ok = [p["id"] for p in selected], set(), True
for r in b["replacements"]:  # each takes the next unused alternate of the replaced one's stratum
    s = next((p["stratum"] for p in selected + alternates if p["id"] == r["replaced"]), None)
    nxt = next((a["id"] for a in alternates if a["stratum"] == s and a["id"] not in used), None)
    valid = r["reason"] in reasons | {"outside_jurisdiction"} and (
        r["reason"] != "other" or r["note"].strip()
    )
    if not valid or r["replaced"] not in active or (r["by"], r["stratum"]) != (nxt, s):
        replacements_ok = False
        break
    active, used = [x for x in active if x != r["replaced"]] + [nxt], used | {nxt}
body = {k: v for k, v in b.items() if k not in ("candidates", "record_digest")}
body = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
ids = [c["id"].encode() for c in b["candidates"]]
checks = {
    "spec": (b["spec"], "SSJ-DRAW-1"),
    "ticket_scheme": (b["ticket_scheme"] in ("ssj-draw-1", "consistent_sampler"), True),
    "candidates": (all(x < y for x, y in pairwise(ids)), True),  # sorted by utf8(id), unique
    "pool_digest": (b["pool_digest"], digest),
    "strata": (b["strata"], sizes),
    "selected": (b["selected"], selected),
    "alternates": (b["alternates"], alternates),
    "replacements": (replacements_ok, True),
    "record_digest": (b["record_digest"], hashlib.sha256(body).hexdigest()),
}
bad = [name for name, (recorded, derived) in checks.items() if recorded != derived]
print("FAILED: " + ", ".join(bad) if bad else "OK: the draw re-derives from the bundle")
sys.exit(1 if bad else 0)
