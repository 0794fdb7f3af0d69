// The broker's own share of a message's way through it, from `perf script -F tid,time,event` output
// of its syscalls (scripts/profile-broker.sh with PROFILE=path): per thread, from the moment an
// epoll_wait returns (bytes arrived) to the first socket send after it (the delivery leaves), and on to
// the next epoll_wait (the rest of that wake-up's work). What the load generator and the machine add
// (its own threads, wake-ups, the other core) is outside these spans, so targets compare on the
// broker's work alone.
// usage: node scripts/bench/path.mjs perf-script.txt [more.txt ...]
import { readFileSync } from "node:fs";

const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(a.length * p))] : NaN);
const fmt = (v) => (Number.isNaN(v) ? "-" : v.toFixed(0));
console.log("| perf script | wake-ups | with a send | epoll → send p50 / p90 / p99 µs | send → epoll p50 / p90 µs | busy per wake-up mean µs |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const file of process.argv.slice(2)) {
  const woke = new Map(); // tid → { at, sent }
  const toSend = [], afterSend = [], busy = [];
  let wakeUps = 0;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*(\d+)\s+([\d.]+):\s+\S+:(sys_(?:enter|exit)_(\w+)):/.exec(line);
    if (!m) continue;
    const [, tid, seconds, event, call] = m;
    const t = Number(seconds) * 1e6;
    const w = woke.get(tid);
    if (event === "sys_exit_epoll_wait") {
      woke.set(tid, { at: t, sent: null });
      wakeUps++;
    } else if (event === "sys_enter_epoll_wait" && w) {
      busy.push(t - w.at);
      if (w.sent != null) afterSend.push(t - w.sent);
      woke.delete(tid);
    } else if ((call === "sendto" || call === "write" || call === "sendmsg") && event.startsWith("sys_enter") && w && w.sent == null) {
      w.sent = t;
      toSend.push(t - w.at);
    }
  }
  for (const a of [toSend, afterSend]) a.sort((x, y) => x - y);
  const mean = busy.reduce((s, v) => s + v, 0) / (busy.length || 1);
  console.log(`| ${file.split("/").pop()} | ${wakeUps} | ${toSend.length} | ${fmt(pct(toSend, 0.5))} / ${fmt(pct(toSend, 0.9))} / ${fmt(pct(toSend, 0.99))} | ${fmt(pct(afterSend, 0.5))} / ${fmt(pct(afterSend, 0.9))} | ${fmt(mean)} |`);
}
