// Calling `shuangsuiji serve` from Node (20+, built-in fetch and crypto, no packages): the seed
// ceremony of a draw with two parties — the drawer enters the system's part, the supervisor
// (监督人) its own — then the pre-draw announcement, the reveals and the draw. The commitments
// are computed here, in JavaScript, by the SSJ-SEED-1 rule (docs/ssj-draw-1.md):
//
//   commitment = SHA-256("SSJ-SEED-1" 0 "commit" 0 task 0 pool_digest 0 party 0 contribution)
//
//   SSJ_URL=http://127.0.0.1:8750 SSJ_KEY_PLANNER=… SSJ_KEY_DRAWER=… SSJ_KEY_SUPERVISOR=… \
//   SSJ_KEY_AUDITOR=… node examples/server_client.mjs
import { createHash, randomBytes } from "node:crypto";

const env = process.env;
const URL = env.SSJ_URL ?? "http://127.0.0.1:8750";
const TASK = env.SSJ_TASK ?? `NODE-${Date.now()}`;
const KEYS = {
  planner: env.SSJ_KEY_PLANNER,
  drawer: env.SSJ_KEY_DRAWER,
  supervisor: env.SSJ_KEY_SUPERVISOR,
  auditor: env.SSJ_KEY_AUDITOR,
};

async function call(role, method, path, body) {
  const response = await fetch(URL + path, {
    method,
    headers: {
      Authorization: `Bearer ${KEYS[role]}`,
      "Content-Type": "application/json",
      "X-Request-ID": `node-${randomBytes(6).toString("hex")}`,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    // The library's refusals come as {error: family, detail: what to do}.
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  }
  return data;
}

function commitment(task, poolDigest, party, contribution) {
  const zero = Buffer.from([0]);
  const text = (s) => Buffer.from(s, "utf8");
  const parts = ["SSJ-SEED-1", "commit", task, poolDigest, party].flatMap((s) => [text(s), zero]);
  return createHash("sha256").update(Buffer.concat([...parts, contribution])).digest("hex");
}

// The vector printed in the seeds module: the same bytes give the same commitment anywhere.
const vector = commitment("T-1", "ab".repeat(32), "局方", Buffer.alloc(16));
if (!vector.startsWith("cf4cf610b869c344")) throw new Error(`SSJ-SEED-1 vector: ${vector}`);

await call("planner", "POST", "/tasks", {
  code: TASK,
  plan: env.SSJ_PLAN ?? "P",
  name: `双随机抽查 ${TASK}`,
  departments: [env.SSJ_DEPARTMENT ?? "SCJG"],
  items: [env.SSJ_ITEM ?? "SCJG-01"],
  start: env.SSJ_START ?? "2026-07-01",
  end: env.SSJ_END ?? "2026-09-30",
});
const frozen = await call("drawer", "POST", `/tasks/${TASK}/freeze`, {
  cutoff: env.SSJ_CUTOFF ?? "2026-06-30",
});
console.log(`task ${TASK}: ${frozen.candidates} candidates, pool digest ${frozen.pool_digest}`);

// Each party keeps its contribution secret until the announcement is out.
const parties = [
  ["系统随机数", "drawer", randomBytes(32)],
  ["派驻纪检监察组", "supervisor", randomBytes(32)],
];
for (const [party, role, value] of parties) {
  const digest = commitment(TASK, frozen.pool_digest, party, value);
  await call(role, "POST", `/tasks/${TASK}/seed/commit`, { party, commitment: digest });
}
const announcement = await call("drawer", "POST", `/tasks/${TASK}/announce`);
console.log(`announced (publish this before any reveal): ${JSON.stringify(announcement).length} bytes`);
for (const [party, role, value] of parties) {
  await call(role, "POST", `/tasks/${TASK}/seed/reveal`, { party, contribution: value.toString("hex") });
}
const drawn = await call("drawer", "POST", `/tasks/${TASK}/select`);
console.log(`drawn: ${drawn.selected.length} entities, seed ${drawn.seed}`);

// The bundle re-derives, and the log names who did each step.
const bundle = await call("auditor", "GET", `/tasks/${TASK}/bundle`);
const report = await call("auditor", "POST", "/verify", { bundle });
if (!report.ok) throw new Error(`bundle does not verify: ${report.problems}`);
const mine = [];
for (let after = 0; after !== null; ) {
  const page = await call("auditor", "GET", `/audit/events?after=${after}&limit=500`);
  mine.push(...page.items.filter((e) => e.payload.task === TASK));
  after = page.next; // cursor paging: null after the last page
}
const roles = new Set(mine.map((e) => e.payload.actor?.role));
if (!roles.has("supervisor") || !roles.has("drawer")) throw new Error("actors missing");
console.log(`verified; ${mine.length} events of ${TASK} by ${[...roles].sort().join(", ")}`);
