"""Re-derive an SSJ-DRAW-1 bundle with the Python standard library alone (docs/ssj-draw-1.md).

Usage: python verify_stdlib.py BUNDLE.json   -> exit 0 if the pool digest, sizes, selection,
alternates, replacements and record digest re-derive exactly; else print what differs, exit 1.
Seed provenance and teams are not checked here (see shuangsuiji.bundle.verify_bundle).

python verify_stdlib.py --teams PROBLEM.json  -> replay an SSJ-ASSIGN-2 team draw (docs/teams.md:
proposal rounds, drop, refill, the flow phase to the bit, smoothing) from {"key": hex, "size": k,
"eligible": {entity: [officer, ...]}, "caps": {officer: cap}, "teams": {entity: [officer, ...]}}
and exit 0 if the teams re-derive. Scope: tasks with one kind of officer (no joint departments,
no qualification a member must bring), whose eligibility is given; the rules that decide it
(conflicts, rotation, home region, certificates) and re-assignments are checked by the library.
"""

import hashlib
import json
import sys
from fractions import Fraction
from itertools import pairwise
from math import comb

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


class Stream:
    """block(i) = SHA-256(key || "SSJ-ASSIGN-1" || 0x00 || u64be(i)), four big-endian words each."""

    def __init__(self, key: bytes) -> None:
        self.key, self.position = key, 0

    def word(self) -> int:
        w, self.position = self.position, self.position + 1
        block = sha256(self.key + b"SSJ-ASSIGN-1\0" + (w // 4).to_bytes(8, "big"))
        return int.from_bytes(block[8 * (w % 4) : 8 * (w % 4) + 8], "big")

    def uniform(self, n: int) -> int:
        m = max(1, -(-(n - 1).bit_length() // 64))
        limit = (1 << 64 * m) - (1 << 64 * m) % n
        while True:
            x = 0
            for _ in range(m):
                x = x << 64 | self.word()
            if x < limit:
                return x % n

    def start_phase(self) -> None:
        self.position = -(-self.position // 4) * 4


def choose(stream: Stream, pool: list, r: int) -> list:
    """r distinct members of pool: uniform(C(a, r)) for the (only) vector, then the u-th not
    yet chosen, r times; [] without words when fewer than r are available."""
    if len(pool) < r:
        return []
    stream.uniform(comb(len(pool), r))
    chosen: list[int] = []
    for j in range(r):
        pos = stream.uniform(len(pool) - j)
        for taken in sorted(chosen):
            pos += taken <= pos
        chosen.append(pos)
    return [pool[i] for i in chosen]


def dinic(arcs: dict, res: dict, source: int, sink: int) -> None:
    """Dinic's algorithm of docs/teams.md: arcs in ascending order of their other end, one
    unit per walk, pointers kept between walks of a phase."""
    while True:
        level, queue = {source: 0}, [source]
        for u in queue:
            for v in arcs[u]:
                if v not in level and res[u][v] > 0:
                    level[v] = level[u] + 1
                    queue.append(v)
        if sink not in level:
            return
        ptr = dict.fromkeys(arcs, 0)
        path = [source]
        while path:
            u = path[-1]
            if u == sink:
                for a, b in pairwise(path):
                    res[a][b], res[b][a] = res[a][b] - 1, res[b][a] + 1
                path = [source]
                continue
            while ptr[u] < len(arcs[u]):
                v = arcs[u][ptr[u]]
                if level.get(v) == level[u] + 1 and res[u][v] > 0:
                    path.append(v)
                    break
                ptr[u] += 1
            else:
                path.pop()
                if path:
                    ptr[path[-1]] += 1


def flow_phase(stream: Stream, p: dict, teams: list) -> list:
    """Fill the holes by the maximum flow on the numbered residual network (one group and one
    hub per entity: this verifier's scope has no requirement groups)."""
    stream.start_phase()
    perms = []
    for n in (len(p["cols"]), len(p["ents"])):  # Fisher-Yates, columns then entities
        perm = list(range(n))
        for j in range(n - 1, 0, -1):
            r = stream.uniform(j + 1)
            perm[j], perm[r] = perm[r], perm[j]
        perms.append(perm)
    ins_perm, ent_perm = perms
    n, k, cols = len(p["ents"]), p["size"], p["cols"]
    group = {x: 1 + j for j, x in enumerate(ent_perm)}
    hub = {x: 1 + n + j for j, x in enumerate(ent_perm)}
    node = {c: 1 + 2 * n + ins_perm[c] for c in range(len(cols))}
    sink = 1 + 2 * n + len(cols)
    res: dict = {u: {} for u in range(sink + 1)}

    def edge(u: int, v: int, cap: int, f: int) -> None:
        res[u][v], res[v][u] = cap - f, f

    load = [0] * len(cols)
    for x in range(n):
        edge(0, hub[x], k, len(teams[x]))
        edge(hub[x], group[x], k, len(teams[x]))
        for c in p["eligible"][x]:
            edge(group[x], node[c], 1, int(c in teams[x]))
            load[c] += c in teams[x]
    for c in range(len(cols)):
        edge(node[c], sink, p["caps"][c], load[c])
    dinic({u: sorted(res[u]) for u in res}, res, 0, sink)
    out = [[c for c in range(len(cols)) if res[node[c]].get(group[x], 0)] for x in range(n)]
    if any(len(t) != k for t in out):
        raise ValueError("no assignment exists: the flow does not fill every place")
    return out


def replay_teams(problem: dict) -> dict[str, list[str]]:
    """The teams SSJ-ASSIGN-2 draws for ``problem`` (see the module docstring)."""
    ents = sorted(problem["eligible"], key=str.encode)
    cols = sorted(problem["caps"], key=str.encode)
    col = {c: i for i, c in enumerate(cols)}
    caps = [problem["caps"][c] for c in cols]
    eligible = [sorted(col[o] for o in problem["eligible"][x]) for x in ents]
    p = {"ents": ents, "cols": cols, "caps": caps, "eligible": eligible, "size": problem["size"]}
    k, n, stream = problem["size"], len(ents), Stream(bytes.fromhex(problem["key"]))
    for _ in range(max(1, min(64, 65536 // max(1, n * (k + 1))))):
        stream.start_phase()
        teams = [choose(stream, eligible[x], k) for x in range(n)]
        load = [sum(c in t for t in teams) for c in range(len(cols))]
        if all(load[c] <= caps[c] for c in range(len(cols))):
            return named(p, teams)
    stream.start_phase()  # drop: each over-cap officer leaves load - cap of its teams
    for c in range(len(cols)):
        have = [x for x in range(n) if c in teams[x]]
        for x in choose_positions(stream, have, load[c] - caps[c]):
            teams[x].remove(c)
        load[c] = min(load[c], caps[c])
    stream.start_phase()  # refill: entity by entity, among officers with room
    for x in range(n):
        room = [c for c in eligible[x] if load[c] < caps[c] and c not in teams[x]]
        new = choose(stream, room, k - len(teams[x])) if len(teams[x]) < k else []
        for c in new:
            load[c] += 1
        teams[x] += new
    if any(len(t) < k for t in teams):
        teams = flow_phase(stream, p, teams)
    stream.start_phase()  # smoothing: 4n + 64 Metropolis steps
    spare = [caps[c] - sum(c in t for t in teams) for c in range(len(cols))]
    for _ in range(4 * n + 64):
        x = stream.uniform(n)
        new = choose(stream, eligible[x], k)
        if all(c in teams[x] or spare[c] > 0 for c in new):
            for c in teams[x]:
                spare[c] += 1
            for c in new:
                spare[c] -= 1
            teams[x] = new
    return named(p, teams)


def choose_positions(stream: Stream, have: list, r: int) -> list:
    """The drop's draws: r times the u-th not yet taken of ``have`` (no vector word)."""
    chosen: list[int] = []
    for j in range(max(0, r)):
        pos = stream.uniform(len(have) - j)
        for taken in sorted(chosen):
            pos += taken <= pos
        chosen.append(pos)
    return [have[i] for i in chosen]


def named(p: dict, teams: list) -> dict[str, list[str]]:
    return {
        p["ents"][x]: sorted((p["cols"][c] for c in t), key=str.encode) for x, t in enumerate(teams)
    }


if __name__ == "__main__":
    if sys.argv[1] == "--teams":
        with open(sys.argv[2], encoding="utf-8") as f:
            problem = json.load(f)
        wrong = [e for e, t in replay_teams(problem).items() if problem["teams"].get(e) != t]
        print(f"FAILED: teams of {wrong}" if wrong else "OK: the teams re-derive from the key")
        sys.exit(1 if wrong else 0)
    with open(sys.argv[1], encoding="utf-8") as f:
        bad = failures(json.load(f))
    print("FAILED: " + ", ".join(bad) if bad else "OK: the draw re-derives from the bundle")
    sys.exit(1 if bad else 0)
