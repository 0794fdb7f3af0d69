#!/usr/bin/env bash
# Shadow benchmark on the local stack: Azurite + the function app (standalone) + the broker posting
# event batches to it (authorization off: the scenario's things are not provisioned), then
# `FarmSimulator shadow-load`: one TLS connection per thing; shadow update -> update/accepted round
# trip at a steady rate and closed-loop updates per second, each next to the broker-only echo
# baseline measured in the same run.
# usage: scripts/bench-shadow.sh [THINGS=1000] [RATE=200] [DURATION=20]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
THINGS=${1:-1000}; RATE=${2:-200}; DURATION=${3:-20}
CERTS=$LOCAL/bench/shadow-certs
TABLE_PORT=${TABLE_PORT:-20112}; FN_PORT=${FN_PORT:-17081}; MQTT_PORT=${MQTT_PORT:-18853}; API_PORT=${API_PORT:-18854}
mkdir -p "$LOCAL/logs" "$CERTS"
need node; need dotnet
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_azurite
for project in functions/IoTServerless.Functions broker/IoTServerless.Broker firmware/FarmSimulator; do
  dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly || exit 1
done
SIM="dotnet firmware/FarmSimulator/bin/Release/net10.0/FarmSimulator.dll"
$SIM certs --out "$CERTS" --sensors "$THINGS" --pumps 0 | head -1

API_KEY=$(random_secret); FN_KEY=$(random_secret)
node "$AZURITE_PREFIX/node_modules/azurite/dist/src/table/main.js" --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" \
  --location "$(mktemp -d)" --skipApiVersionCheck --disableProductStyleUrl --silent > "$LOCAL/logs/bench-shadow-azurite.log" 2>&1 &
AZ_PID=$!
STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:$TABLE_PORT/devstoreaccount1;"
(cd functions/IoTServerless.Functions/bin/Release/net10.0 && Logging__LogLevel__Default=Warning Storage__ConnectionString="$STORAGE" \
  BrokerApi__BaseUrl="http://127.0.0.1:$API_PORT/" BrokerApi__Key="$API_KEY" Hosting__FunctionKey="$FN_KEY" \
  exec dotnet IoTServerless.Functions.dll --urls "http://127.0.0.1:$FN_PORT") > "$LOCAL/logs/bench-shadow-functions.log" 2>&1 &
FN_PID=$!
(cd broker/IoTServerless.Broker/bin/Release/net10.0 && Logging__LogLevel__Default=Warning \
  Broker__Mqtt__BindAddress=127.0.0.1 Broker__Mqtt__Port="$MQTT_PORT" Broker__WebSockets__Enabled=false \
  Broker__Api__Port="$API_PORT" Broker__Api__Key="$API_KEY" \
  Broker__Tls__ServerCertificatePath="$CERTS/server.crt" Broker__Tls__ServerKeyPath="$CERTS/server.key" \
  Broker__Tls__ClientCaPath="$CERTS/ca.crt" Broker__Authorization__Enabled=false \
  Broker__Events__Sink=Webhook Broker__Events__WebhookUrl="http://127.0.0.1:$FN_PORT/api/events" Broker__Events__WebhookKey="$FN_KEY" \
  exec dotnet IoTServerless.Broker.dll) > "$LOCAL/logs/bench-shadow-broker.log" 2>&1 &
BR_PID=$!
trap 'kill $BR_PID $FN_PID $AZ_PID 2>/dev/null' EXIT
wait_for_port "$TABLE_PORT" 30 && wait_for_port "$FN_PORT" 60 && wait_for_port "$MQTT_PORT" 60 || { echo "the stack did not start (see $LOCAL/logs/bench-shadow-*.log)" >&2; exit 1; }

$SIM shadow-load --host 127.0.0.1 --port "$MQTT_PORT" --certs "$CERTS" --things "$THINGS" --rate "$RATE" --duration "$DURATION"
