"""Re-derive an SSJ-DRAW-1 bundle with the Python standard library alone (docs/ssj-draw-1.md).

Usage: python verify_stdlib.py BUNDLE.json   -> exit 0 if the pool digest, sizes, selection,
alternates, replacements and record digest re-derive exactly; else print what differs, exit 1.
Seed provenance and teams are not checked here (see shuangsuiji.bundle.verify_bundle).

python verify_stdlib.py --teams PROBLEM.json  -> replay an SSJ-ASSIGN-2 team draw (docs/teams.md:
proposal rounds, drop, refill, the flow phase to the bit with its branch-and-bound, smoothing)
from {"key": hex, "size": k, "eligible": {entity: [officer, ...]}, "caps": {officer: cap},
"teams": {entity: [officer, ...]}} and exit 0 if the teams re-derive. A joint task (联合抽查)
or one whose items need a qualification a member must bring (qualification_mode "any_member")
adds "requirements": [name, ...] in bit order (the departments of a joint task in task order,
then the qualifications sorted by code point) and "meets": {officer: [requirement, ...]} (an
officer not named meets none); "caps" names every officer that passes the officer-level rules.
With "reassignments" (the bundle's assignment.reassignments, SSJ-CHANGE-1), "task" and
"alternates" ({alternate: [officer, ...]}, the eligibility of each alternate that took a
replaced entity's place), each change record is checked (request digest over canonical JSON,
system value against its commitment, the request against the re-assignment, witnesses), its
change key derived, and the change replayed from block 0 of its own stream; "teams" are then
the teams after the changes, as in a bundle.
python verify_stdlib.py --capped PROBLEM.json  -> replay an SSJ-ASSIGN-CAP-1 team draw
(docs/capped.md: the level, the numbering, the maximum flow in units, the dependent rounding)
from the same fields and "cap": c; "teams" are the teams drawn.
Scope: any task (one kind of officer, joint departments, qualifications a member must bring,
requirements that cross), whose eligibility, caps and requirements met are given; the rules
that decide them (conflicts, rotation, home region, certificates, departments, qualifications),
sealed change texts (the annex) and re-assignments recorded before change keys (SSJ-CHANGE-1)
are checked by the library. SSJ-ASSIGN-1 records (whose flow phase was SciPy's) are not
replayed here.
"""

import hashlib
import json
import sys
from fractions import Fraction
from itertools import pairwise
from math import comb
from typing import Any

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


class Kinds:
    """The typed problem of docs/teams.md: requirement j is bit j of a mask (the problem's
    "requirements" in that order); an officer's type is the mask of those it meets ("meets");
    types are the distinct masks of the officers in "caps", ascending; columns are those
    officers sorted by (type, ID); the flow's entities are numbered in ID order."""

    def __init__(self, problem: dict[str, Any]) -> None:
        names = problem.get("requirements") or []
        if len(set(names)) != len(names):
            raise ValueError("a requirement is named twice")
        bit = {r: 1 << j for j, r in enumerate(names)}
        meets = problem.get("meets") or {}
        unknown = sorted({r for rs in meets.values() for r in rs} - set(bit))
        if unknown:
            raise ValueError(f"'meets' names {unknown}, not in 'requirements'")
        mask = {o: sum(bit[r] for r in set(meets.get(o, []))) for o in problem["caps"]}
        self.masks = sorted(set(mask.values()))
        self.cols = sorted(mask, key=lambda o: (self.masks.index(mask[o]), o.encode()))
        self.col = {o: c for c, o in enumerate(self.cols)}
        self.type = [self.masks.index(mask[o]) for o in self.cols]
        self.caps = [problem["caps"][o] for o in self.cols]
        self.ents = sorted(problem["eligible"], key=str.encode)
        self.eligible = [sorted(self.col[o] for o in problem["eligible"][x]) for x in self.ents]
        self.k, self.full = problem["size"], (1 << len(bit)) - 1
        self.groups = disjoint_groups(self.masks, len(bit))
        self._vectors: dict[tuple[int, int], list[tuple[int, ...]]] = {}

    def cover(self, team: list[int]) -> int:
        out = 0
        for c in team:
            out |= self.masks[self.type[c]]
        return out

    def vectors(self, r: int, residual: int) -> list[tuple[int, ...]]:
        """Count vectors over the types with sum r that cover ``residual``, lexicographic."""
        if (r, residual) not in self._vectors:
            out, n_t = [], len(self.masks)

            def rec(prefix: tuple[int, ...], left: int) -> None:
                if len(prefix) == n_t - 1:
                    v = (*prefix, left)
                    if residual & ~self.cover_of(v) == 0:
                        out.append(v)
                    return
                for c in range(left + 1):
                    rec((*prefix, c), left - c)

            if n_t:
                rec((), r)
            self._vectors[(r, residual)] = out
        return self._vectors[(r, residual)]

    def cover_of(self, v: tuple[int, ...]) -> int:
        out = 0
        for t, c in enumerate(v):
            out |= self.masks[t] if c else 0
        return out

    def by_type(self, pool: list[int]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.masks]
        for c in sorted(pool):
            out[self.type[c]].append(c)
        return out


def weight(a: list[int], v: tuple[int, ...]) -> int:
    """W(v) = prod_t C(a[t], v[t]): the teams of vector v from a[t] officers of each type."""
    w = 1
    for t, c in enumerate(v):
        w *= comb(a[t], c)
    return w


def disjoint_groups(masks: list[int], n_req: int) -> list[frozenset[int]]:
    """Requirement j's type set; the minimal sets (a repeat counts once, first); of those, in
    requirement order, each one disjoint from the ones kept before."""
    sets = [frozenset(t for t, m in enumerate(masks) if m >> j & 1) for j in range(n_req)]
    minimal = [
        g
        for j, g in enumerate(sets)
        if not any(h < g or (h == g and i < j) for i, h in enumerate(sets) if i != j)
    ]
    kept: list[frozenset[int]] = []
    for g in minimal:
        if all(not g & h for h in kept):
            kept.append(g)
    return kept


def draw_team(stream: Stream, p: Kinds, pool: list[int], r: int, kept: list[int]) -> list | None:
    """Complete ``kept`` with r members of ``pool`` (columns, not in kept), uniformly among the
    covering completions: uniform(sum W) picks the vector (covering vectors in lexicographic
    order, the first whose weight exceeds what is left of the draw), then per type in order
    the u-th not yet chosen of that type, v_t times. None, without words, when none exists."""
    if r == 0:
        return list(kept) if p.cover(kept) == p.full else None
    by_type = p.by_type(pool)
    a = [len(cs) for cs in by_type]
    vecs = p.vectors(r, p.full & ~p.cover(kept))
    weights = [weight(a, v) for v in vecs]
    if not sum(weights):
        return None
    u, j = stream.uniform(sum(weights)), 0
    while u >= weights[j]:
        u, j = u - weights[j], j + 1
    new = [c for t, n in enumerate(vecs[j]) for c in choose_positions(stream, by_type[t], n)]
    return [*kept, *new]


def choose_positions(stream: Stream, have: list, r: int) -> list:
    """r times the u-th not yet taken of ``have`` (the members of a type; the drop's teams)."""
    chosen: list[int] = []
    for j in range(max(0, r)):
        pos = stream.uniform(len(have) - j)
        for taken in sorted(chosen):
            pos += taken <= pos
        chosen.append(pos)
    return [have[i] for i in chosen]


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


Group = tuple[frozenset[int], int, int]  # types, mandatory places, optional places


def template(p: Kinds, v: tuple[int, ...] | None) -> list[Group]:
    """An entity's groups: relaxed (one per disjoint group, plus the other types) or fixed to v."""
    if v is not None:
        return [(frozenset([t]), c, 0) for t, c in enumerate(v) if c]
    n = len(p.groups)
    rest = frozenset(range(len(p.masks))).difference(*p.groups)
    return [(g, 1, p.k - n) for g in p.groups] + ([(rest, 0, p.k - n)] if rest and p.k > n else [])


def solve_flow(p: Kinds, teams: list, perms: tuple, fixed: dict) -> list | None:
    """The maximum flow on the numbered network of docs/teams.md, from the kept ``teams``;
    the teams it gives when it fills every place, else None."""
    ins_perm, ent_perm = perms
    groups = [template(p, fixed.get(x)) for x in range(len(p.ents))]
    kinds = sorted({g for gs in groups for g in gs}, key=lambda g: (sorted(g[0]), g[1], g[2]))
    node, nxt = {}, 1
    for g in kinds:  # group nodes kind by kind, entities by position
        for x in ent_perm:
            if g in groups[x]:
                node[x, g], nxt = nxt, nxt + 1
    hub = {}
    for x in ent_perm:
        if p.k - sum(g[1] for g in groups[x]) > 0:
            hub[x], nxt = nxt, nxt + 1
    ins = [nxt + ins_perm[c] for c in range(len(p.cols))]
    sink = nxt + len(p.cols)
    res: dict = {u: {} for u in range(sink + 1)}

    def edge(u: int, v: int, cap: int, f: int) -> None:
        if cap > 0 or f > 0:
            res[u][v], res[v][u] = cap - f, f

    load = [0] * len(p.cols)
    for x, gs in enumerate(groups):
        via_hub = 0
        for g in gs:
            mine = [c for c in teams[x] if p.type[c] in g[0]]  # the kept members of this group
            direct = min(len(mine), g[1])
            via_hub += len(mine) - direct
            edge(0, node[x, g], g[1], direct)
            if x in hub and g[2] > 0:
                edge(hub[x], node[x, g], g[2], len(mine) - direct)
            for c in p.eligible[x]:
                if p.type[c] in g[0]:
                    edge(node[x, g], ins[c], 1, int(c in mine))
                    load[c] += c in mine
        if x in hub:
            edge(0, hub[x], p.k - sum(g[1] for g in gs), via_hub)
    for c in range(len(p.cols)):
        edge(ins[c], sink, p.caps[c], load[c])
    dinic({u: sorted(res[u]) for u in res}, res, 0, sink)
    out = [[c for c in range(len(p.cols)) if any(res[ins[c]].get(node[x, g], 0) for g in gs)]
           for x, gs in enumerate(groups)]  # fmt: skip
    return out if all(len(t) == p.k for t in out) else None


def options(p: Kinds, x: int, team: list[int]) -> list[tuple[int, ...]]:
    """The covering vectors of size k entity x can staff, closest to ``team`` first: most of
    its members that fit, then the largest weight, then lexicographic rank."""
    a = [len(cs) for cs in p.by_type(p.eligible[x])]
    have = [len(cs) for cs in p.by_type(team)]
    vecs = [v for v in p.vectors(p.k, p.full) if all(c <= a[t] for t, c in enumerate(v))]
    rank = {v: j for j, v in enumerate(vecs)}
    fit = {v: sum(min(c, have[t]) for t, c in enumerate(v)) for v in vecs}
    return sorted(vecs, key=lambda v: (-fit[v], -weight(a, v), rank[v]))


def fit(p: Kinds, team: list[int], v: tuple[int, ...]) -> list[int]:
    """The members of ``team``, in order, while their type still has room in v."""
    left, out = list(v), []
    for c in team:
        if left[p.type[c]]:
            left[p.type[c]] -= 1
            out.append(c)
    return out


def solve_exact(p: Kinds, teams: list, perms: tuple, fixed: dict) -> list | None:
    """The flow, and the branch-and-bound when requirements cross: entities whose flow team
    misses a requirement are fixed to vectors (all at once to their closest, then the first
    of them over all its vectors), and the flow is solved again from the fitted teams."""
    found = solve_flow(p, teams, perms, fixed)
    if found is None:
        return None
    bad = [x for x, t in enumerate(found) if x not in fixed and p.cover(t) != p.full]
    choices = {x: options(p, x, found[x]) for x in bad}
    if not bad or not all(choices.values()):
        return None if bad else found
    if len(bad) > 1:  # dive
        start = [fit(p, t, choices[x][0]) if x in choices else t for x, t in enumerate(found)]
        dive = solve_exact(p, start, perms, fixed | {x: choices[x][0] for x in bad})
        if dive is not None:
            return dive
    x = bad[0]
    for v in choices[x]:  # branch
        start = [fit(p, t, v) if y == x else t for y, t in enumerate(found)]
        branch = solve_exact(p, start, perms, fixed | {x: v})
        if branch is not None:
            return branch
    return None


def permutation(stream: Stream, n: int) -> list[int]:
    """Fisher-Yates: for j = n-1 .. 1 swap p[j] with p[uniform(j + 1)]."""
    perm = list(range(n))
    for j in range(n - 1, 0, -1):
        r = stream.uniform(j + 1)
        perm[j], perm[r] = perm[r], perm[j]
    return perm


def flow_phase(stream: Stream, p: Kinds, teams: list) -> list:
    """Fill the holes by the maximum flow on the numbered residual network."""
    stream.start_phase()
    perms = permutation(stream, len(p.cols)), permutation(stream, len(p.ents))
    out = solve_exact(p, teams, perms, {})
    if out is None:
        raise ValueError("no assignment exists: the flow does not fill every place")
    return out


def replay_teams(problem: dict) -> dict[str, list[str]]:
    """The teams SSJ-ASSIGN-2 draws for ``problem`` (see the module docstring)."""
    p = Kinds(problem)
    k, n, caps, eligible = p.k, len(p.ents), p.caps, p.eligible
    stream = Stream(bytes.fromhex(problem["key"]))
    if not p.cols and n:
        raise ValueError("no assignment exists: no officer can be drawn")
    for x in range(n):
        a = [len(cs) for cs in p.by_type(eligible[x])]
        if not any(weight(a, v) for v in p.vectors(k, p.full)):
            raise ValueError(f"no assignment exists: {p.ents[x]} has no covering team")
    for _ in range(max(1, min(64, 65536 // max(1, n * (k + 1))))):
        stream.start_phase()
        teams = [draw_team(stream, p, eligible[x], k, []) for x in range(n)]
        load = [sum(c in t for t in teams) for c in range(len(p.cols))]
        if all(load[c] <= caps[c] for c in range(len(p.cols))):
            return named(p, teams)
    stream.start_phase()  # drop: each over-cap officer, in ID order, leaves load - cap teams
    for c in sorted(range(len(p.cols)), key=lambda c: p.cols[c].encode()):
        have = [x for x in range(n) if c in teams[x]]
        for x in choose_positions(stream, have, load[c] - caps[c]):
            teams[x].remove(c)
        load[c] = min(load[c], caps[c])
    stream.start_phase()  # refill: entity by entity, among officers with room
    for x in range(n):
        room = [c for c in eligible[x] if load[c] < caps[c] and c not in teams[x]]
        new = draw_team(stream, p, room, k - len(teams[x]), teams[x])
        for c in (new or [])[len(teams[x]) :]:
            load[c] += 1
        teams[x] = new or teams[x]
    if any(len(t) < k for t in teams):
        teams = flow_phase(stream, p, teams)
    stream.start_phase()  # smoothing: 4n + 64 Metropolis steps
    spare = [caps[c] - sum(c in t for t in teams) for c in range(len(p.cols))]
    for _ in range(4 * n + 64):
        x = stream.uniform(n)
        new = draw_team(stream, p, eligible[x], k, []) or []  # never None: checked above
        if all(c in teams[x] or spare[c] > 0 for c in new):
            for c in teams[x]:
                spare[c] += 1
            for c in new:
                spare[c] -= 1
            teams[x] = new
    return named(p, teams)


def named(p: Kinds, teams: list) -> dict[str, list[str]]:
    return {p.ents[x]: sorted((p.cols[c] for c in t), key=str.encode) for x, t in enumerate(teams)}


CHANGE_PREFIX = b"SSJ-CHANGE-1\0"
ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
ESCAPES["\t"] = "\\t"


def canonical_json(value: object) -> bytes:
    """Canonical JSON as docs/audit.md states it: keys sorted by code point, no whitespace,
    only the escapes \\" \\\\ \\b \\f \\n \\r \\t and \\u00xx below U+0020, integers within
    2**53 - 1, floats as their shortest repr, UTF-8. Anything else is refused (ValueError)."""
    return _canonical(value, 0).encode("utf-8")


def _canonical(v: object, depth: int) -> str:
    if depth > 64:
        raise ValueError("nested deeper than 64 levels")
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, int):
        if abs(v) > 2**53 - 1:
            raise ValueError(f"integer {v} is outside ±(2**53 - 1)")
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{v!r} is not a JSON number")
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ",".join(_canonical(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise ValueError("JSON object keys must be strings")
        members = (_string(k) + ":" + _canonical(v[k], depth + 1) for k in sorted(v))
        return "{" + ",".join(members) + "}"
    raise ValueError(f"a {type(v).__name__} is not a JSON value")


def _string(s: str) -> str:
    if any("\ud800" <= ch <= "\udfff" for ch in s):
        raise ValueError("a lone surrogate is not text")
    out = (ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ch < " " else ch) for ch in s)
    return '"' + "".join(out) + '"'


def change_problems(r: dict[str, Any], index: int, task: str, team_key: bytes) -> list[str]:
    """What is wrong with re-assignment ``r``'s change record (docs/teams.md, SSJ-CHANGE-1):
    the request's digest, its system value, the team key it builds on, what it says against
    the re-assignment, and its witnesses."""
    change = r.get("change") or {}
    request, where = change.get("request") or {}, f"change {index}"
    wants = {"spec": "SSJ-CHANGE-1", "task": task, "index": index, "entity": r["entity"]}
    wants |= {"kind": "replacement" if r.get("replaces") else "recusal"}
    wants |= {"inspector": r["inspector"], "reason": r["reason"]}
    wants |= {} if "text_commitment" in request else {"text": r["text"]}  # sealed: the annex
    wants |= {"replaces": r["replaces"]} if r.get("replaces") else {}
    out = [
        f"{where}: the request says {k}={request.get(k)!r}, the record {v!r}"
        for k, v in wants.items()
        if request.get(k) != v
    ]
    if sha256(CHANGE_PREFIX + canonical_json(request)).hex() != change.get("digest"):
        out.append(f"{where}: the request does not hash to its digest")
    value = bytes.fromhex(change.get("system_value", ""))
    if sha256(CHANGE_PREFIX + b"system\0" + value).hex() != request.get("system_commitment"):
        out.append(f"{where}: the system value does not match the request's commitment")
    if sha256(team_key).hex() != request.get("team_key_sha256"):
        out.append(f"{where}: the request builds on another team key")
    witnesses = change.get("witnesses") or []
    if len({w["party"] for w in witnesses}) != len(witnesses):
        out.append(f"{where}: a witness party appears twice")
    if len(witnesses) < request.get("witnesses_needed", 0):
        out.append(f"{where}: {len(witnesses)} witness(es), the request needs more")
    return out


def change_key(team_key: bytes, change: dict[str, Any]) -> bytes:
    """SHA-256("SSJ-CHANGE-1" || 0x00 || team_key || request_digest || v || canonical_json(w)),
    w = the witnesses as [[party, hex value], ...] sorted by party."""
    pairs = sorted([w["party"], w["value"]] for w in change.get("witnesses") or [])
    body = bytes.fromhex(change["digest"]) + bytes.fromhex(change["system_value"])
    return sha256(CHANGE_PREFIX + team_key + body + canonical_json(pairs))


class Teams:
    """The teams while changes are replayed: who is on which team, each officer's load, and
    the (entity, officer) pairs that recused (they never return)."""

    def __init__(self, problem: dict[str, Any], teams: dict[str, list[str]]) -> None:
        self.kinds, self.k, self.caps = Kinds(problem), problem["size"], problem["caps"]
        self.eligible = problem["eligible"] | problem.get("alternates", {})
        self.teams = {e: list(t) for e, t in teams.items()}
        self.banned: set[tuple[str, str]] = set()

    def named(self) -> dict[str, list[str]]:
        return {e: sorted(t, key=str.encode) for e, t in self.teams.items()}

    def load(self, officer: str) -> int:
        return sum(officer in t for t in self.teams.values())

    def room(self, entity: str, kept: list[str]) -> list[str]:
        """The entity's eligible officers, in ID order, below their cap, not recused, not kept."""
        pool = sorted(self.eligible[entity], key=str.encode)
        return [
            o
            for o in pool
            if self.load(o) < self.caps[o] and (entity, o) not in self.banned and o not in kept
        ]

    def draw(self, stream: Stream, entity: str, kept: list[str]) -> list[str]:
        """Complete ``kept`` (already off the team) among officers with room, covering what the
        kept members do not; failing that, a whole new team, as in SSJ-ASSIGN-2's re-assignment
        step."""
        p = self.kinds
        pool, have = [p.col[o] for o in self.room(entity, kept)], [p.col[o] for o in kept]
        new = draw_team(stream, p, pool, self.k - len(kept), have)
        if new is None:
            new = draw_team(stream, p, [p.col[o] for o in self.room(entity, [])], self.k, [])
        if new is None:
            raise ValueError(f"no team for {entity} without changing other teams")
        return [p.cols[c] for c in new]


def replay_change(state: Teams, r: dict[str, Any], key: bytes) -> dict[str, Any]:
    """Apply re-assignment ``r`` to ``state`` from block 0 of ``key``'s stream; return what it
    derives (removed, added, first_block, next_block) to compare with the record."""
    stream, e, old = Stream(key), r["entity"], []
    if r.get("replaces"):  # an alternate: the replaced entity's team is gone, its places free
        if r["replaces"] not in state.teams or e in state.teams:
            raise ValueError(f"{e} cannot take the place of {r['replaces']}")
        removed = state.teams.pop(r["replaces"])
        state.teams[e] = state.draw(stream, e, [])
    else:
        old = state.teams.get(e, [])
        if r["inspector"] not in old:
            raise ValueError(f"{r['inspector']} is not on the team of {e}")
        state.banned.add((e, r["inspector"]))
        state.teams[e] = []  # the remaining members are kept; a redraw may take them again
        state.teams[e] = state.draw(stream, e, [o for o in old if o != r["inspector"]])
        removed = [o for o in old if o not in state.teams[e]]
    return {
        "removed": sorted(removed),
        "added": sorted(o for o in state.teams[e] if o not in old),
        "first_block": 0,
        "next_block": -(-stream.position // 4),
    }


def replay_reassignments(
    problem: dict[str, Any], drawn: dict[str, list[str]]
) -> tuple[dict[str, list[str]], list[str]]:
    """The teams after the problem's re-assignments, from the drawn teams, and the problems
    found in its change records and re-assignment records."""
    team_key, state = bytes.fromhex(problem["key"]), Teams(problem, drawn)
    out: list[str] = []
    for i, r in enumerate(problem.get("reassignments") or []):
        if not r.get("change"):  # recorded before change keys: the library replays those
            return state.named(), [*out, f"change {i}: no change record (SSJ-CHANGE-1)"]
        try:
            found = change_problems(r, i, problem.get("task", ""), team_key)
            key = change_key(team_key, r["change"])
        except (KeyError, TypeError, ValueError) as exc:
            found = [f"change {i}: the record is unreadable ({exc!r})"]
        if found:
            return state.named(), out + found
        if sha256(key).hex() != r.get("key_sha256"):
            out.append(f"change {i}: its key differs from the recorded key_sha256")
        saved = {e: list(t) for e, t in state.teams.items()}, set(state.banned)
        try:
            derived = replay_change(state, r, key)
        except ValueError as exc:  # refused: as in the library, no team changes
            state.teams, state.banned = saved
            return state.named(), [*out, f"change {i}: {exc}"]
        recorded = {k: sorted(r.get(k) or []) for k in ("removed", "added")}
        recorded |= {k: r.get(k) for k in ("first_block", "next_block")}
        out += [
            f"change {i}: {k} {recorded[k]} != replayed {v}"
            for k, v in derived.items()
            if recorded[k] != v
        ]
    return state.named(), out


def verify_teams(problem: dict[str, Any]) -> list[str]:
    """The problems of a --teams problem: teams that do not re-derive, changes that do not."""
    teams, out = replay_teams(problem), list[str]()
    if problem.get("reassignments"):
        teams, out = replay_reassignments(problem, teams)
    wrong = sorted(set(teams) | set(problem["teams"]), key=str.encode)
    wrong = [e for e in wrong if problem["teams"].get(e) != teams.get(e)]
    return out + ([f"teams of {wrong}"] if wrong else [])


# ---------------------------------------------------------------- SSJ-ASSIGN-CAP-1 (docs/capped.md)

UNIT = 10_000  # B: probabilities in units of 1/B


class CapStream(Stream):
    """The same stream with the capped law's domain: "SSJ-ASSIGN-CAP-1" || 0x00."""

    def word(self) -> int:
        w, self.position = self.position, self.position + 1
        block = sha256(self.key + b"SSJ-ASSIGN-CAP-1\0" + (w // 4).to_bytes(8, "big"))
        return int.from_bytes(block[8 * (w % 4) : 8 * (w % 4) + 8], "big")


class Net:
    """Edges [tail, head, capacity, flow]; adj[u]: (other end, edge), ascending other end."""

    def __init__(self, n: int, edges: list) -> None:
        self.n, self.e = n, [[u, v, c, 0] for u, v, c in edges]
        self.adj: list[list] = [[] for _ in range(n)]
        for i, (u, v, _c, _f) in enumerate(self.e):
            self.adj[u].append((v, i))
            self.adj[v].append((u, i))
        for a in self.adj:
            a.sort()

    def res(self, u: int, i: int) -> int:
        t, _h, c, f = self.e[i]
        return c - f if t == u else f

    def push(self, u: int, i: int, d: int) -> None:
        self.e[i][3] += d if self.e[i][0] == u else -d


def cap_dfs(net: Net, level: list, ptr: list, u: int, f: int) -> int:
    """The textbook walk: at T return f; try u's arcs from its pointer, advance on failure."""
    if u == net.n - 1:
        return f
    while ptr[u] < len(net.adj[u]):
        v, i = net.adj[u][ptr[u]]
        if level[v] == level[u] + 1 and net.res(u, i) > 0:
            d = cap_dfs(net, level, ptr, v, min(f, net.res(u, i)))
            if d > 0:
                net.push(u, i, d)
                return d
        ptr[u] += 1
    return 0


def cap_maxflow(net: Net) -> int:
    """Dinic, bottleneck pushed, arcs by ascending other end, pointers kept within a phase."""
    total, sink = 0, net.n - 1
    while True:
        level, queue = [-1] * net.n, [0]
        level[0] = 0
        for u in queue:
            for v, i in net.adj[u]:
                if level[v] < 0 and net.res(u, i) > 0:
                    level[v] = level[u] + 1
                    queue.append(v)
        if level[sink] < 0:
            return total
        ptr = [0] * net.n
        while d := cap_dfs(net, level, ptr, 0, 1 << 62):
            total += d


def cap_round(net: Net, stream: Stream) -> None:
    """The dependent rounding of docs/capped.md, step 5, written from the text."""
    frac = lambda i: net.e[i][3] % UNIT != 0  # noqa: E731
    walk: list[int] = []
    edges: list[int] = []
    while True:
        if not walk:
            start = next((u for u in range(net.n) if any(frac(i) for _, i in net.adj[u])), None)
            if start is None:
                return
            walk = [start]
        u, came = walk[-1], edges[-1] if edges else None
        nxt = [(v, i) for v, i in net.adj[u] if frac(i) and i != came]
        if not nxt:
            walk, edges = [], []
            continue
        v, i = nxt[0]
        if v not in walk:
            walk.append(v)
            edges.append(i)
            continue
        at = walk.index(v)
        cycle, x, signs = [*edges[at:], i], v, []
        for j in cycle:
            signs.append(1 if net.e[j][0] == x else -1)
            x = net.e[j][1] if signs[-1] > 0 else net.e[j][0]
        up = [UNIT - net.e[j][3] % UNIT for j in cycle]
        down = [net.e[j][3] % UNIT for j in cycle]
        alpha = min(a if s > 0 else b for s, a, b in zip(signs, up, down, strict=True))
        beta = min(b if s > 0 else a for s, a, b in zip(signs, up, down, strict=True))
        amount = alpha if stream.uniform(alpha + beta) < beta else -beta
        for j, s in zip(cycle, signs, strict=True):
            net.e[j][3] += s * amount
        keep = at + next(t for t, j in enumerate(cycle) if not frac(j))
        walk, edges = walk[: keep + 1], edges[:keep]


def cap_groups(p: dict, officers: list) -> tuple[list, dict]:
    """The requirements kept (implied ones left out) and each officer's group (-1: none)."""
    reqs, meets = p.get("requirements", []), p.get("meets", {})
    kind = {o: frozenset(r for r in reqs if r in meets.get(o, [])) for o in officers}
    sets = [frozenset(t for t in kind.values() if r in t) for r in reqs]
    kept = [
        j
        for j, g in enumerate(sets)
        if not any(h < g or (h == g and i < j) for i, h in enumerate(sets) if i != j)
    ]
    if any(sets[a] & sets[b] for a in kept for b in kept if a < b) or len(kept) > p["size"]:
        raise ValueError("the requirements cross, or outnumber the team: no capped law")
    group = {o: next((g for g, j in enumerate(kept) if kind[o] in sets[j]), -1) for o in officers}
    return kept, group


def cap_network(p: dict, ents: list, offs: list, caps: dict, r: int, group: dict) -> tuple:
    """docs/capped.md's N with pair capacities caps[e], numbered by ents and offs."""
    k, free = p["size"], (p["size"] - r) * UNIT
    node = {o: 1 + len(ents) * (r + 1) + q for q, o in enumerate(offs)}
    edges, pair = [], {}
    for q, e in enumerate(ents):
        hub = 1 + q * (r + 1)
        if free:
            edges.append((0, hub, free))
        for j in range(r):
            edges.append((0, hub + 1 + j, UNIT))
            if free:
                edges.append((hub, hub + 1 + j, free))
        for o in p["eligible"][e]:
            pair[e, o] = len(edges)
            edges.append((hub + 1 + group[o], node[o], caps[e]))
    sink = 1 + len(ents) * (r + 1) + len(offs)
    edges += [(node[o], sink, p["caps"][o] * UNIT) for o in offs if p["caps"][o] > 0]
    return Net(sink + 1, edges), pair, len(ents) * k * UNIT


def replay_capped(p: dict) -> dict[str, list[str]]:
    """The teams of an SSJ-ASSIGN-CAP-1 draw from {"key", "size", "cap", "eligible", "caps",
    optional "requirements" and "meets"}: levels, numbering, flow, rounding."""
    k, limit = p["size"], int(Fraction(str(p["cap"])) * UNIT)
    ents = sorted(p["eligible"], key=str.encode)
    offs = sorted({o for e in ents for o in p["eligible"][e]}, key=str.encode)
    kept, group = cap_groups(p, offs)
    r = len(kept)
    own = {}
    for e in ents:
        m = p["eligible"][e]
        shares = [-(-k * UNIT // max(1, len(m)))]
        shares += [-(-UNIT // max(1, sum(group[o] == g for o in m))) for g in range(r)]
        own[e] = max(shares)

    def full(t: int) -> bool:
        net, _, need = cap_network(p, ents, offs, {e: max(b, t) for e, b in own.items()}, r, group)
        return cap_maxflow(net) == need

    if max(own.values()) > limit or not full(limit):
        raise ValueError("no capped law: the pool cannot keep every pair at or below the cap")
    lo, hi = 0, limit
    if full(0):
        hi = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if full(mid) else (mid, hi)
    caps = {e: max(b, hi) for e, b in own.items()}
    stream = CapStream(bytes.fromhex(p["key"]))
    order = [ents[i] for i in permutation(stream, len(ents))]
    stream.start_phase()
    officers = [offs[i] for i in permutation(stream, len(offs))]
    net, pair, need = cap_network(p, order, officers, caps, r, group)
    if cap_maxflow(net) != need:
        raise ValueError("the flow does not fill every place")
    stream.start_phase()
    cap_round(net, stream)
    return {e: sorted(o for o in p["eligible"][e] if net.e[pair[e, o]][3] == UNIT) for e in ents}


def verify_capped(problem: dict[str, Any]) -> list[str]:
    """The problems of a --capped problem: teams that do not re-derive."""
    teams = replay_capped(problem)
    wrong = [e for e in sorted(teams, key=str.encode) if problem["teams"].get(e) != teams[e]]
    return [f"teams of {wrong}"] if wrong else []


if __name__ == "__main__":
    if sys.argv[1] in ("--teams", "--capped"):
        with open(sys.argv[2], encoding="utf-8") as f:
            problem = json.load(f)
        bad = verify_teams(problem) if sys.argv[1] == "--teams" else verify_capped(problem)
        print("FAILED: " + "; ".join(bad) if bad else "OK: the teams re-derive from the key")
        sys.exit(1 if bad else 0)
    with open(sys.argv[1], encoding="utf-8") as f:
        bad = failures(json.load(f))
    print("FAILED: " + ", ".join(bad) if bad else "OK: the draw re-derives from the bundle")
    sys.exit(1 if bad else 0)
