#!/usr/bin/env bash
# Broker benchmark with the neutral load generator in ../shared/bench: our broker with its event
# sink on (forwarding every message to the real function app on Azurite), the same broker with the
# sink off, and mosquitto, alternating runs in counterbalanced order (A B C C B A ...), a fresh broker
# process per run.
# Prints medians and ratios against mosquitto measured in the same run.
# usage: scripts/bench-broker.sh [RUNS=3] [CASES...]   (the latency case runs at least LATENCY_RUNS=8 times)
#   cases: fanin-q0-e2e fanin-q1-e2e fanin-q1-e2e-w1 fanin-q0-flood fanin-q1-flood latency conns-tls (default: all)
#   and fanin-q0-e2e-subs: fanin-q0-e2e with SUBSCRIBERS (default 2,000) idle TLS connections open, each
#   subscribed to two topics of its own (benchmarks/IoTServerless.BenchSubscribers): what a fleet of
#   subscribed devices costs a broker per message it dispatches (not in the default set);
#   and subs-retained: a fleet coming back after an outage. RETAINED (default 20,000) retained messages,
#   one per device topic, are published, then SUBSCRIBERS devices connect and subscribe, each waiting for
#   its own retained message (not in the default set; no load generator); and idle-fleet: SUBSCRIBERS
#   devices connect and subscribe, then the broker's CPU is sampled over IDLE_SECONDS (20) with all of
#   them idle (keep-alive 1,200 s): what a connected fleet costs between readings (not in the default set).
#   targets (TARGETS=...): mosquitto; mqttnet (the bare MQTTnet 5.2 server in ../shared/bench);
#   iot-sink-off (authorization off, nothing forwarded); iot-sink-on (authorization off, every message
#   forwarded to the function app); iot-authz (authorization on with a realistic policy set on the bench
#   certificate, nothing forwarded); iot-full (the broker as deployed: authorization on and every
#   message batched and forwarded, to a receiver that accepts and discards, so the function app and
#   Azurite do not take the 2 cores from the broker being measured); iot-uncoalesced (iot-sink-off with one TLS write per packet, as MQTTnet does);
#   iot-full-pgo (iot-full with
#   dynamic PGO switched back on, DOTNET_TieredPGO=1: the ablation of the broker's <TieredPGO>false</TieredPGO>);
#   iot-full-pooled (iot-full with Broker:Mqtt:InlineSocketScheduling off: thread-pool hops per socket read),
#   iot-full-queued (iot-full with Broker:Mqtt:DirectQos0 off: every QoS 0 message through MQTTnet's receive loop and session queue),
#   iot-full-q1loop (iot-full with Broker:Mqtt:DirectQos1 off: QoS 1 PUBLISHes and their PUBACKs through MQTTnet's receive loop and send loop),
#   iot-full-w20 (iot-full with the local default sink window, 20 ms, instead of the deployed one);
#   iot-full-base (iot-full built from the git revision BASELINE_REV, e.g. BASELINE_REV=HEAD for
#   uncommitted changes against the last commit: an A/B of a code change within one run),
#   iot-authz-base (likewise for iot-authz: the A/B without the event sink);
#   tls-floor (benchmarks/IoTServerless.TlsFloor: a Socket and an SslStream with the broker's mutual-TLS
#   settings and the least MQTT a load test needs, QoS 0 only, no broker: the floor under a .NET design);
#   tls-floor-native (the same floor with OpenSSL driving the socket itself, as mosquitto does, instead of
#   SslStream: what a native TLS layer would give a .NET server).
# BROKER_ENV="NAME=value ...": environment for every iot-* broker; BASE_ENV: only for the *-base ones.
# SINK_WINDOW_MS: the event sink's QoS 0 batch window for brokers with a sink (default: as deployed, infra/app/broker.bicep).
# Needs: mosquitto (Debian package) for the reference; BENCH=path/to/shared/bench (default ../shared/bench).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RUNS=${1:-3}; shift 2>/dev/null || true
CASES=("$@"); [ ${#CASES[@]} -eq 0 ] && CASES=(fanin-q0-e2e fanin-q1-e2e fanin-q1-e2e-w1 fanin-q0-flood fanin-q1-flood latency conns-tls)
BENCH=${BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd)}
CONNS=${CONNS:-19500}
WARMUP=${WARMUP:-3}
# The event sink's batch window (QoS 0; a QoS 1 PUBACK never waits for it) as deployed: batchWindowMilliseconds in infra/app/broker.bicep.
SINK_WINDOW_MS=${SINK_WINDOW_MS:-$(sed -nE 's/^param batchWindowMilliseconds int = ([0-9]+).*/\1/p' infra/app/broker.bicep)}
LATENCY_RUNS=${LATENCY_RUNS:-8} # latency percentiles vary more from run to run: at least this many runs
TARGETS=(${TARGETS:-mosquitto iot-sink-off iot-sink-on})
OUT=${OUT:-$LOCAL/bench/broker-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
CERTS=/tmp/bench/certs
LG="$BENCH/loadgen/bin/Release/net10.0/loadgen"
mkdir -p "$(dirname "$OUT")" "$LOCAL/logs"
[ -d "$BENCH/loadgen" ] || { echo "shared/bench not found; set BENCH=" >&2; exit 1; }
need node; need dotnet; command -v mosquitto >/dev/null || echo "warning: mosquitto not installed (apt-get install mosquitto); its runs will fail" >&2

[ -f "$CERTS/server.key" ] || "$BENCH/scripts/gen-certs.sh" "$CERTS" >/dev/null
(cd "$BENCH/loadgen" && dotnet build -c Release -nologo -v q -clp:ErrorsOnly -o bin/Release/net10.0) || exit 1
# The broker as its image ships it (Dockerfile): published ReadyToRun, so a fresh process runs
# precompiled code instead of spending its first seconds in the JIT.
BROKER_DIR=$LOCAL/bench/broker
dotnet publish broker/IoTServerless.Broker -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$BROKER_DIR" -nologo -v q -clp:ErrorsOnly || exit 1
BASE_DIR=$LOCAL/bench/broker-base; rm -rf "$BASE_DIR"
if [ -n "${BASELINE_REV:-}" ]; then
  rm -rf "$LOCAL/bench/base-src" && mkdir -p "$LOCAL/bench/base-src" && git archive "$BASELINE_REV" | tar -x -C "$LOCAL/bench/base-src" || exit 1
  dotnet publish "$LOCAL/bench/base-src/broker/IoTServerless.Broker" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$BASE_DIR" -nologo -v q -clp:ErrorsOnly || exit 1
  # Only the published broker is needed: a second copy of the projects under the repository makes
  # BenchmarkDotNet refuse to build (two IoTServerless.Benchmarks.csproj).
  rm -rf "$LOCAL/bench/base-src"
fi
FLOOR_DIR=$LOCAL/bench/tls-floor
if [[ " ${TARGETS[*]} " == *" tls-floor"* ]]; then
  dotnet publish benchmarks/IoTServerless.TlsFloor -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$FLOOR_DIR" -nologo -v q -clp:ErrorsOnly || exit 1
fi
SUBS_DIR=$LOCAL/bench/subscribers
if [[ " ${CASES[*]} " == *subs* || " ${CASES[*]} " == *idle-fleet* ]]; then
  dotnet publish benchmarks/IoTServerless.BenchSubscribers -c Release -nologo -v q -clp:ErrorsOnly -o "$SUBS_DIR" || exit 1
fi
dotnet build functions/IoTServerless.Functions -c Release -nologo -v q -clp:ErrorsOnly || exit 1
install_azurite
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The sink: Azurite + the function app, started once for the whole benchmark.
API_KEY=$(random_secret); FN_KEY=$(random_secret)
TABLE_PORT=20102; FN_PORT=17071
node "$AZURITE_PREFIX/node_modules/azurite/dist/src/table/main.js" --tableHost 127.0.0.1 --tablePort $TABLE_PORT \
  --location "$(mktemp -d)" --skipApiVersionCheck --disableProductStyleUrl --silent > "$LOCAL/logs/bench-azurite.log" 2>&1 &
AZ_PID=$!
STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:$TABLE_PORT/devstoreaccount1;"
(cd functions/IoTServerless.Functions/bin/Release/net10.0 && Logging__LogLevel__Default=Warning Storage__ConnectionString="$STORAGE" \
  BrokerApi__BaseUrl=http://127.0.0.1:18844/ BrokerApi__Key="$API_KEY" Hosting__FunctionKey="$FN_KEY" \
  exec dotnet IoTServerless.Functions.dll --urls http://127.0.0.1:$FN_PORT) > "$LOCAL/logs/bench-functions.log" 2>&1 &
FN_PID=$!
# iot-full's sink: accepts every CloudEvents batch (200) and discards it.
NULL_PORT=17072
node -e 'require("http").createServer((q, s) => { q.resume(); q.on("end", () => { s.writeHead(200); s.end(); }); }).listen(+process.argv[1], "127.0.0.1")' $NULL_PORT &
NULL_PID=$!
trap 'kill $AZ_PID $FN_PID $NULL_PID 2>/dev/null' EXIT
wait_for_port $TABLE_PORT 30 && wait_for_port $FN_PORT 60 && wait_for_port $NULL_PORT 10 || { echo "sink did not start" >&2; exit 1; }

# The bench certificate as a registered device with a realistic policy set: a device policy with
# policy variables and a fleet policy with a Deny (what a thing-group policy adds), both attached.
api() { curl -sf -X "$1" -H "x-functions-key: $FN_KEY" -H 'content-type: application/json' "http://127.0.0.1:$FN_PORT/api/$2" ${3:+-d "$3"} >/dev/null; }
CERT_ID=$(openssl x509 -in $CERTS/client.crt -outform der | sha256sum | cut -d' ' -f1)
CERT_JSON=$(node -e 'console.log(JSON.stringify({certificatePem: require("fs").readFileSync(process.argv[1], "utf8"), status: "ACTIVE"}))' $CERTS/client.crt)
api POST certificate/register-no-ca "$CERT_JSON" || true
DEVICE_POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/lg-*"},{"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:*:*:topic/bench/fanin/*","arn:aws:iot:*:*:topic/bench/lat/*","arn:aws:iot:*:*:topic/bench/idle/*"]},{"Effect":"Allow","Action":"iot:RetainPublish","Resource":"arn:aws:iot:*:*:topic/bench/idle/*"},{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/forbidden/${iot:ClientId}"},{"Effect":"Allow","Action":["iot:Subscribe"],"Resource":"arn:aws:iot:*:*:topicfilter/bench/*"},{"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/bench/*"}]}'
FLEET_POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/$aws/events/*"},{"Effect":"Allow","Action":"iot:Receive","Resource":["arn:aws:iot:*:*:topic/bench/fanin/*","arn:aws:iot:*:*:topic/bench/lat/*"]}]}'
api POST policies/BenchDevice "$(node -e 'console.log(JSON.stringify({policyDocument: process.argv[1]}))' "$DEVICE_POLICY")" || true
api POST policies/BenchFleet "$(node -e 'console.log(JSON.stringify({policyDocument: process.argv[1]}))' "$FLEET_POLICY")" || true
api PUT target-policies/BenchDevice "{\"target\":\"$CERT_ID\"}"
api PUT target-policies/BenchFleet "{\"target\":\"$CERT_ID\"}"

start_target() { # prints the PID
  case $1 in
    mosquitto) "$BENCH/scripts/start-mosquitto.sh" ;;
    mqttnet) "$BENCH/scripts/start-mqttnet.sh" ;;
    tls-floor|tls-floor-native)
      local port tls=sslstream; port=$(port_of "$1"); [ "$1" = tls-floor-native ] && tls=openssl
      (cd "$FLOOR_DIR" && exec dotnet IoTServerless.TlsFloor.dll --port "$port" --tls $tls --cert $CERTS/server.crt --key $CERTS/server.key --ca $CERTS/ca.crt) > "$LOCAL/logs/bench-$1.log" 2>&1 &
      local pid=$!
      wait_for_port "$port" 30 >/dev/null || { echo "$1 did not start" >&2; return 1; }
      echo $pid ;;
    iot-*)
      local sink=None authz=false coalesce=true inline=true direct=true direct1=true window=$SINK_WINDOW_MS pgo= webhook=http://127.0.0.1:$FN_PORT/api/events dir=$BROKER_DIR
      case $1 in
        iot-sink-on) sink=Webhook ;;
        iot-authz) authz=true ;;
        iot-full) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ ;;
        iot-full-pgo) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ pgo=1 ;;
        iot-full-pooled) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ inline=false ;;
        iot-full-queued) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ direct=false ;;
        iot-full-q1loop) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ direct1=false ;;
        iot-full-w20) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ window=20 ;;
        iot-full-base) sink=Webhook authz=true webhook=http://127.0.0.1:$NULL_PORT/ dir=$BASE_DIR
          [ -f "$dir/IoTServerless.Broker.dll" ] || { echo "iot-full-base needs BASELINE_REV=" >&2; return 1; } ;;
        iot-authz-base) authz=true dir=$BASE_DIR
          [ -f "$dir/IoTServerless.Broker.dll" ] || { echo "iot-authz-base needs BASELINE_REV=" >&2; return 1; } ;;
        iot-uncoalesced) coalesce=false ;;
      esac
      (cd "$dir" && { [ -z "$pgo" ] || export DOTNET_TieredPGO=$pgo; } && { [ -z "${BROKER_ENV:-}" ] || export ${BROKER_ENV}; } && { [ "$dir" != "$BASE_DIR" ] || [ -z "${BASE_ENV:-}" ] || export ${BASE_ENV}; } && Logging__LogLevel__Default=Warning \
        Broker__Mqtt__BindAddress=127.0.0.1 Broker__Mqtt__Port=18843 Broker__WebSockets__Enabled=false \
        Broker__Api__Port=18844 Broker__Api__Key="$API_KEY" \
        Broker__Tls__ServerCertificatePath=$CERTS/server.crt Broker__Tls__ServerKeyPath=$CERTS/server.key \
        Broker__Tls__ClientCaPath=$CERTS/ca.crt \
        Broker__Authorization__Enabled=$authz Storage__ConnectionString="$STORAGE" Broker__Mqtt__CoalesceWrites=$coalesce Broker__Mqtt__InlineSocketScheduling=$inline Broker__Mqtt__DirectQos0=$direct Broker__Mqtt__DirectQos1=$direct1 \
        Broker__Events__Sink=$sink Broker__Events__WebhookUrl=$webhook Broker__Events__BatchWindowMilliseconds=$window \
        Broker__Events__WebhookKey="$FN_KEY" Broker__Events__ForwardTopicFilters__0='bench/#' \
        exec dotnet IoTServerless.Broker.dll) > "$LOCAL/logs/bench-broker.log" 2>&1 &
      local pid=$!
      wait_for_port 18843 30 >/dev/null || { echo "broker did not start" >&2; return 1; }
      echo $pid ;;
  esac
}
port_of() { case $1 in mosquitto) echo 18831 ;; mqttnet) echo 18833 ;; tls-floor) echo 18853 ;; tls-floor-native) echo 18855 ;; *) echo 18843 ;; esac; }
stop_pid() { kill "$1" 2>/dev/null; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_idle() { local t0 t1; for _ in $(seq 20); do t0=$(cpu_ticks "$1"); sleep 0.5; t1=$(cpu_ticks "$1"); [ $((t1 - t0)) -le 2 ] && return 0; done; }
args_of() {
  case $1 in
    fanin-q0-e2e|fanin-q0-e2e-subs) echo "fanin --publishers 20 --subscribers 1 --qos 0 --flow e2e --inflight 32 --duration 10 --warmup $WARMUP" ;;
    fanin-q1-e2e)    echo "fanin --publishers 20 --subscribers 1 --qos 1 --flow e2e --inflight 32 --duration 10 --warmup $WARMUP" ;;
    fanin-q1-e2e-w1) echo "fanin --publishers 20 --subscribers 1 --qos 1 --flow e2e --inflight 1 --duration 10 --warmup $WARMUP" ;;
    fanin-q0-flood)  echo "fanin --publishers 20 --subscribers 1 --qos 0 --flow open --duration 10 --warmup $WARMUP" ;;
    fanin-q1-flood)  echo "fanin --publishers 20 --subscribers 1 --qos 1 --flow open --inflight 32 --duration 10 --warmup $WARMUP" ;;
    latency)         echo "latency --rate 1000 --qos 0 --duration 10 --warmup ${LATENCY_WARMUP:-2}" ;;
    conns-tls)       echo "conns --count $CONNS --concurrency 64 --hold ${HOLD:-5} --src-ips 127.0.0.2-127.0.0.20" ;;
  esac
}

for c in "${CASES[@]}"; do
  runs=$RUNS; [ "$c" = latency ] && [ "$runs" -lt "$LATENCY_RUNS" ] && runs=$LATENCY_RUNS
  for r in $(seq "$runs"); do
    # Counterbalanced order (A B C, C B A, ...): the run right after another broker's shutdown is
    # measurably slower here, so a fixed order would bias every ratio against the later targets.
    order=("${TARGETS[@]}"); [ $((r % 2)) -eq 0 ] && for ((i=${#TARGETS[@]}-1, j=0; i>=0; i--, j++)); do order[j]=${TARGETS[i]}; done
    for t in "${order[@]}"; do
      pid=$(start_target "$t") || continue
      wait_idle "$pid"
      log="$LOCAL/logs/bench-$c-$t-$r.log"
      if [ "$c" = subs-retained ]; then
        echo "== $c run $r/$runs on $t (pid $pid)" >&2
        # Broker CPU (clock ticks) at the start, once the retained messages are in, and once every device has subscribed.
        t0=$(cpu_ticks "$pid"); t1=""
        (cd "$SUBS_DIR" && exec dotnet IoTServerless.BenchSubscribers.dll --port "$(port_of "$t")" --count "${SUBSCRIBERS:-2000}" --retained "${RETAINED:-20000}" \
          --ca $CERTS/ca.crt --cert $CERTS/client.crt --key $CERTS/client.key) > "$log" 2>&1 &
        subs_pid=$!
        for _ in $(seq 3000); do
          [ -z "$t1" ] && grep -q '^RETAINED' "$log" && t1=$(cpu_ticks "$pid")
          grep -q '^READY' "$log" && break; kill -0 $subs_pid 2>/dev/null || break; sleep 0.1
        done
        t2=$(cpu_ticks "$pid"); rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
        if grep -q '^READY' "$log" && [ -n "$t1" ]; then
          node -e 'const [ret, ready, t0, t1, t2, rss] = process.argv.slice(1); const [, n, secs] = ret.split(" "); const [, ok, failed, subSecs] = ready.split(" ");
            console.log(JSON.stringify({label: process.argv[7], case: "subs-retained", run: +process.argv[8], retained: +n, retainedSeconds: +secs, retainedPerSec: +n / +secs,
              retainedCpuMs: (t1 - t0) * 10, subscribed: +ok, failed: +failed, subscribeSeconds: +subSecs, subscribedPerSec: +ok / +subSecs,
              subscribeCpuMsPerDevice: (t2 - t1) * 10 / Math.max(1, +ok), brokerRssMb: +rss / 1024}))' \
            "$(grep '^RETAINED' "$log")" "$(grep '^READY' "$log")" "$t0" "$t1" "$t2" "$rss" "$t" "$r" >> "$OUT"
        else
          echo "   run failed, see $log" >&2
          echo "{\"label\":\"$t\",\"case\":\"$c\",\"run\":$r,\"failed\":true}" >> "$OUT"
        fi
        stop_pid "$subs_pid"; stop_pid "$pid"; sleep 2
        continue
      fi
      if [ "$c" = idle-fleet ]; then
        echo "== $c run $r/$runs on $t (pid $pid)" >&2
        (cd "$SUBS_DIR" && exec dotnet IoTServerless.BenchSubscribers.dll --port "$(port_of "$t")" --count "${SUBSCRIBERS:-2000}" \
          --ca $CERTS/ca.crt --cert $CERTS/client.crt --key $CERTS/client.key) > "$log" 2>&1 &
        subs_pid=$!
        for _ in $(seq 3000); do grep -q '^READY' "$log" && break; kill -0 $subs_pid 2>/dev/null || break; sleep 0.1; done
        sleep 2; t1=$(cpu_ticks "$pid"); sleep "${IDLE_SECONDS:-20}"; t2=$(cpu_ticks "$pid")
        rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
        if grep -q '^READY' "$log"; then
          node -e 'const [ready, t1, t2, secs, rss] = process.argv.slice(1); const [, ok, failed, subSecs] = ready.split(" ");
            console.log(JSON.stringify({label: process.argv[6], case: "idle-fleet", run: +process.argv[7], subscribed: +ok, failed: +failed,
              subscribedPerSec: +ok / +subSecs, idleCpuPct: (t2 - t1) / +secs, idleCpuUsPerDeviceSecond: (t2 - t1) * 1e4 / +secs / Math.max(1, +ok), brokerRssMb: +rss / 1024}))' \
            "$(grep '^READY' "$log")" "$t1" "$t2" "${IDLE_SECONDS:-20}" "$rss" "$t" "$r" >> "$OUT"
        else
          echo "   run failed, see $log" >&2
          echo "{\"label\":\"$t\",\"case\":\"$c\",\"run\":$r,\"failed\":true}" >> "$OUT"
        fi
        stop_pid "$subs_pid"; stop_pid "$pid"; sleep 2
        continue
      fi
      subs_pid=""
      if [[ $c == *-subs ]]; then
        # The idle subscribed fleet, connected and subscribed before the run starts.
        (cd "$SUBS_DIR" && exec dotnet IoTServerless.BenchSubscribers.dll --port "$(port_of "$t")" --count "${SUBSCRIBERS:-2000}" \
          --ca $CERTS/ca.crt --cert $CERTS/client.crt --key $CERTS/client.key) > "$LOCAL/logs/bench-subscribers.log" 2>&1 &
        subs_pid=$!
        for _ in $(seq 600); do grep -q '^READY' "$LOCAL/logs/bench-subscribers.log" && break; kill -0 $subs_pid 2>/dev/null || break; sleep 0.2; done
        echo "   subscribers: $(grep '^READY' "$LOCAL/logs/bench-subscribers.log" || echo 'not ready')" >&2
        wait_idle "$pid"
      fi
      echo "== $c run $r/$runs on $t (pid $pid)" >&2
      # shellcheck disable=SC2046
      timeout 300 "$LG" $(args_of "$c") --tls --ca $CERTS/ca.crt --cert $CERTS/client.crt --key $CERTS/client.key \
        --port "$(port_of "$t")" --broker-pid "$pid" --label "$t" > "$log" 2>&1
      line=$(grep '^RESULT ' "$log" | sed 's/^RESULT //')
      # Our broker's event sink over the run (warm-up included): messages it accepted, and QoS 0 messages
      # dropped at a full buffer; the runtime's GC pause time, gen 2 collections and bytes allocated
      # since the start; and the connection pumps' wake-ups, inline and on the thread pool (-1 where the
      # broker does not export them).
      sink=""; case $t in iot-*) sink=$(curl -s --max-time 5 "http://127.0.0.1:18844/metrics" | awk '/^iotserverless_broker_events_forwarded_total/{f+=$NF} /^iotserverless_broker_events_dropped_total/{d+=$NF}
        /^dotnet_gc_pause_time_seconds_total/{p=$NF; hp=1} /^dotnet_gc_collections_total.*gen2/{g=$NF; hg=1}
        /^dotnet_gc_heap_total_allocated_bytes_total/{a=$NF; ha=1}
        /^iotserverless_broker_pump_wakes_total.*"inline"/{wi=$NF; hw=1} /^iotserverless_broker_pump_wakes_total.*"pool"/{wp=$NF}
        END{printf "%d %d %s %s %s %s %s", f, d, hp ? p : -1, hg ? g : -1, ha ? a : -1, hw ? wi : -1, hw ? wp : -1}') ;; esac
      if [ -n "$line" ]; then
        node -e 'const r=JSON.parse(process.argv[1]); r.case=process.argv[2]; r.run=+process.argv[3]; const s=process.argv[4].split(" "); if (s.length===7) { r.sinkForwarded=+s[0]; r.sinkDropped=+s[1]; if (+s[2] >= 0) r.gcPauseSeconds=+s[2]; if (+s[3] >= 0) r.gcGen2=+s[3]; if (+s[4] >= 0) r.gcAllocatedMb=+s[4]/1e6; if (+s[5] >= 0 && +s[5] + +s[6] > 0) r.pumpWakesPooledPct=100*+s[6]/(+s[5] + +s[6]); } console.log(JSON.stringify(r))' "$line" "$c" "$r" "$sink" >> "$OUT"
      else
        echo "   run failed, see $log" >&2
        echo "{\"label\":\"$t\",\"case\":\"$c\",\"run\":$r,\"failed\":true}" >> "$OUT"
      fi
      [ -n "$subs_pid" ] && stop_pid "$subs_pid"
      stop_pid "$pid"; sleep 2 # let the port and the CPU settle before the next target
    done
  done
done
echo "results: $OUT" >&2
node "$ROOT/scripts/bench/summarize.mjs" "$OUT"
