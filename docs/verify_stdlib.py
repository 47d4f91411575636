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

REASONS = {"deregistered_before_draw", "not_found_at_address", "duplicate_record"}
REASONS |= {"outside_jurisdiction", "other"}


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def failures(b: dict) -> list[str]:
    """The names of the checks that fail for bundle ``b`` (empty if it re-derives)."""
    cs = b["ticket_scheme"] == "consistent_sampler"
    key = sha256(b"SSJ-DRAW-1\0" + b["task_label"].encode() + b"\0" + bytes.fromhex(b["seed"]))
    lines = sorted((c["id"].encode(), c["stratum"].encode()) for c in b["candidates"])
    digest = sha256(b"".join(i + b"\t" + s + b"\n" for i, s in lines)).hex()
    prefix = sha256(key.hex().encode()).hex().encode() if cs else key
    groups = {s: [] for s in b["strata"]}
    for i, s in lines:  # consistent_sampler orders by the reversed decimal digits
        t = sha256(prefix + i)
        order = f"{int(t.hex(), 16):064d}"[::-1] if cs else t
        groups.setdefault(s.decode(), []).append((order, i, t))
    selected, alternates, sizes = [], [], {}
    for s in sorted(groups, key=str.encode):
        rule, ranked = b["strata"].get(s, {}).get("rule", {}), sorted(groups[s])
        size = len(ranked)
        n = -(-Fraction(rule["ratio"]) * size // 1) if rule.get("ratio") else rule.get("count", 0)
        n = min(size, max(rule.get("minimum", 0), n))  # above: exact ceil(ratio * size)
        n = n if rule.get("maximum") is None else min(rule["maximum"], n)
        m = min(size - n, rule.get("alternates", 0))
        sizes[s] = {"size": size, "sample": n, "alternates": m, "rule": rule}
        pick = [{"id": i.decode(), "stratum": s, "ticket": t.hex()} for _, i, t in ranked[: n + m]]
        selected, alternates = selected + pick[:n], alternates + pick[n:]
    active, used, replacements_ok = [p["id"] for p in selected], set(), True
    for r in b["replacements"]:  # each takes the next unused alternate of the same stratum
        s = next((p["stratum"] for p in selected + alternates if p["id"] == r["replaced"]), None)
        nxt = next((a["id"] for a in alternates if a["stratum"] == s and a["id"] not in used), None)
        valid = r["reason"] in REASONS and (r["reason"] != "other" or r["note"].strip())
        if not valid or r["replaced"] not in active or (r["by"], r["stratum"]) != (nxt, s):
            replacements_ok = False
            break
        active, used = [x for x in active if x != r["replaced"]] + [nxt], used | {nxt}
    body = {k: v for k, v in b.items() if k not in ("candidates", "record_digest")}
    body = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    ids = [c["id"].encode() for c in b["candidates"]]
    checks = {
        "spec": (b["spec"], "SSJ-DRAW-1"),
        "ticket_scheme": (b["ticket_scheme"] in ("ssj-draw-1", "consistent_sampler"), True),
        "candidates": (all(x < y for x, y in pairwise(ids)), True),  # sorted, unique
        "pool_digest": (b["pool_digest"], digest),
        "strata": (b["strata"], sizes),
        "selected": (b["selected"], selected),
        "alternates": (b["alternates"], alternates),
        "replacements": (replacements_ok, True),
        "record_digest": (b["record_digest"], sha256(body.encode()).hex()),
    }
    return [name for name, (recorded, derived) in checks.items() if recorded != derived]


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        bad = failures(json.load(f))
    print("FAILED: " + ", ".join(bad) if bad else "OK: the draw re-derives from the bundle")
    sys.exit(1 if bad else 0)
