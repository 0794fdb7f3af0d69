// Medians per (case, target) of a bench JSONL file, with ratios against mosquitto from the same file.
// usage: node scripts/bench/summarize.mjs RESULTS.jsonl
import { readFileSync } from "node:fs";

const rows = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map(JSON.parse);
const median = (xs) => { const v = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b); return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : null; };
const usPerMsg = (r) => (r.recvPerSec ? (r.brokerCpuPct / 100 / r.recvPerSec) * 1e6 : null);
const metrics = {
  "fanin-q0-e2e": [["recv msg/s", (r) => r.recvPerSec], ["dropped", (r) => r.dropped], ["broker CPU us/msg", usPerMsg]],
  "fanin-q0-e2e-subs": [["recv msg/s", (r) => r.recvPerSec], ["dropped", (r) => r.dropped], ["broker CPU us/msg", usPerMsg], ["broker RSS MB", (r) => r.brokerRssMb]],
  "fanin-q1-e2e": [["recv msg/s", (r) => r.recvPerSec], ["lost", (r) => r.lost], ["broker CPU us/msg", usPerMsg]],
  "fanin-q1-e2e-w1": [["recv msg/s", (r) => r.recvPerSec], ["lost", (r) => r.lost], ["broker CPU us/msg", usPerMsg]],
  "fanin-q0-flood": [["delivered msg/s", (r) => r.recvPerSec], ["dropped", (r) => r.dropped], ["broker CPU us/msg", usPerMsg], ["broker RSS MB", (r) => r.brokerRssMb]],
  "fanin-q1-flood": [["delivered msg/s", (r) => r.recvPerSec], ["lost", (r) => r.lost], ["broker CPU us/msg", usPerMsg], ["broker RSS MB", (r) => r.brokerRssMb]],
  "latency": [["p50 us", (r) => r.p50us], ["p99 us", (r) => r.p99us], ["broker CPU %", (r) => r.brokerCpuPct]],
  "subs-retained": [["retained msg/s", (r) => r.retainedPerSec], ["devices subscribed/s", (r) => r.subscribedPerSec], ["failed", (r) => r.failed],
    ["broker CPU ms/device", (r) => r.subscribeCpuMsPerDevice], ["broker CPU ms, retained", (r) => r.retainedCpuMs], ["broker RSS MB", (r) => r.brokerRssMb]],
  "idle-fleet": [["devices subscribed/s", (r) => r.subscribedPerSec], ["failed", (r) => r.failed], ["idle broker CPU %", (r) => r.idleCpuPct],
    ["… us per device per second", (r) => r.idleCpuUsPerDeviceSecond], ["broker RSS MB", (r) => r.brokerRssMb]],
  "conns-tls": [["connected", (r) => r.connected], ["connects/s", (r) => r.connPerSec], ["RSS bytes/conn", (r) => r.bytesPerConn]],
};
const cases = [...new Set(rows.map((r) => r.case))];
for (const c of cases) {
  const targets = [...new Set(rows.filter((r) => r.case === c).map((r) => r.label))];
  const ok = (t) => rows.filter((r) => r.case === c && r.label === t && !r.failed);
  console.log(`\n### ${c}\n`);
  console.log(`| metric (median) | ${targets.map((t) => `${t} (n=${ok(t).length})`).join(" | ")} | ${targets.filter((t) => t !== "mosquitto").map((t) => `${t} / mosquitto`).join(" | ")} |`);
  console.log(`|---|${targets.map(() => "---:").join("|")}|${targets.filter((t) => t !== "mosquitto").map(() => "---:").join("|")}|`);
  const sink = [["sink forwarded", (r) => r.sinkForwarded], ["sink dropped", (r) => r.sinkDropped], ["pump wake-ups on the pool %", (r) => r.pumpWakesPooledPct]];
  // Allocated over the whole run, warm-up included; per delivered message (fan-in) or per connection. Not per
  // latency sample: the latency case counts only the measured messages, after a warm-up of any length.
  const perUnit = (r) => (r.gcAllocatedMb == null ? null : r.connected ? (r.gcAllocatedMb * 1e6) / r.connected : r.totalReceived ? (r.gcAllocatedMb * 1e6) / r.totalReceived : null);
  const gc = [["GC pause s", (r) => r.gcPauseSeconds], ["gen 2 GCs", (r) => r.gcGen2], ["GC allocated MB", (r) => r.gcAllocatedMb], ["… bytes per msg or conn", perUnit]];
  const has = (k) => rows.some((r) => r.case === c && r[k] != null);
  for (const [name, f] of [...(metrics[c] ?? []), ...(has("sinkForwarded") ? sink : []), ...(has("gcPauseSeconds") ? gc : [])]) {
    const m = Object.fromEntries(targets.map((t) => [t, median(ok(t).map(f))]));
    const fmt = (v) => (v == null ? "-" : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2));
    const ratios = targets.filter((t) => t !== "mosquitto").map((t) => (m.mosquitto && m[t] != null ? (m[t] / m.mosquitto).toFixed(2) : "-"));
    console.log(`| ${name} | ${targets.map((t) => fmt(m[t])).join(" | ")} | ${ratios.join(" | ")} |`);
  }
}
