#!/usr/bin/env bash
# One command for the whole platform on this machine: installs Azurite (npm) into .local/, creates
# the dev PKI and secrets, builds, starts Azurite, the function app (standalone), the broker and the
# farm simulator on loopback, and stops everything it started on Ctrl+C. Provisioning installs the
# irrigation loop's rules: SoilTelemetry (every reading into the IoTSensorData table) and LowHumidity
# (humidity < 35 → the IrrigationController function switches the sensor's pump on for PUMP_SECONDS).
# Settings (environment): SENSORS=20 PUMPS=5 INTERVAL=5 PUMP_SECONDS=60 FUNCTIONS_PORT=7071 MQTT_PORT=8883
#                         WSS_PORT=8443 BROKER_API_PORT=8081 AZURITE_PORT_BASE=10000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
need dotnet
need node
need npm

SENSORS=${SENSORS:-20}
PUMPS=${PUMPS:-5}
INTERVAL=${INTERVAL:-5}
PUMP_SECONDS=${PUMP_SECONDS:-60}
FUNCTIONS_PORT=${FUNCTIONS_PORT:-7071}
MQTT_PORT=${MQTT_PORT:-8883}
WSS_PORT=${WSS_PORT:-8443}
BROKER_API_PORT=${BROKER_API_PORT:-8081}
AZ_BASE=${AZURITE_PORT_BASE:-10000}
BLOB_PORT=$AZ_BASE; QUEUE_PORT=$((AZ_BASE + 1)); TABLE_PORT=$((AZ_BASE + 2))
LOGS="$LOCAL/logs"; CERTS="$LOCAL/certs"; SECRETS="$LOCAL/secrets.env"
mkdir -p "$LOGS"

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo; echo "==> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

install_azurite

if [ ! -f "$SECRETS" ]; then
  echo "==> creating local secrets in .local/secrets.env"
  umask 077
  printf 'BROKER_API_KEY=%s\nFUNCTION_KEY=%s\n' "$(random_secret)" "$(random_secret)" > "$SECRETS"
fi
# shellcheck disable=SC1090
source "$SECRETS"

echo "==> building"
for project in functions/IoTServerless.Functions broker/IoTServerless.Broker firmware/FarmSimulator; do
  dotnet build "$project" -c Debug -nologo -v q -clp:ErrorsOnly
done
FUNCTIONS_BIN="$ROOT/functions/IoTServerless.Functions/bin/Debug/net10.0"
BROKER_BIN="$ROOT/broker/IoTServerless.Broker/bin/Debug/net10.0"
SIM_DLL="$ROOT/firmware/FarmSimulator/bin/Debug/net10.0/FarmSimulator.dll"

echo "==> dev certificates in .local/certs"
dotnet "$SIM_DLL" certs --out "$CERTS" --sensors "$SENSORS" --pumps "$PUMPS" > "$LOGS/certs.log"

echo "==> starting Azurite (blob $BLOB_PORT, queue $QUEUE_PORT, table $TABLE_PORT)"
node "$AZURITE_PREFIX/node_modules/azurite/dist/src/azurite.js" \
  --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" --queueHost 127.0.0.1 --queuePort "$QUEUE_PORT" \
  --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" --location "$LOCAL/azurite-data" \
  --skipApiVersionCheck --disableProductStyleUrl > "$LOGS/azurite.log" 2>&1 &
pids+=($!)
wait_for_port "$TABLE_PORT" 60 || { echo "Azurite did not start; see .local/logs/azurite.log" >&2; exit 1; }
ACCOUNT_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's public dev key
STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$ACCOUNT_KEY;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$QUEUE_PORT/devstoreaccount1;TableEndpoint=http://127.0.0.1:$TABLE_PORT/devstoreaccount1;"

echo "==> starting the function app (standalone) on 127.0.0.1:$FUNCTIONS_PORT"
(cd "$FUNCTIONS_BIN" && ASPNETCORE_ENVIRONMENT=Development \
  Storage__ConnectionString="$STORAGE" \
  BrokerApi__BaseUrl="http://127.0.0.1:$BROKER_API_PORT/" BrokerApi__Key="$BROKER_API_KEY" \
  Hosting__FunctionKey="$FUNCTION_KEY" CertificateAuthority__LocalDirectory="$CERTS" \
  Irrigation__DurationSeconds="$PUMP_SECONDS" \
  exec dotnet IoTServerless.Functions.dll --urls "http://127.0.0.1:$FUNCTIONS_PORT") > "$LOGS/functions.log" 2>&1 &
pids+=($!)

wait_for_port "$FUNCTIONS_PORT" 60 || { echo "the function app did not start; see .local/logs/functions.log" >&2; exit 1; }

echo "==> provisioning the farm through the platform API (things, certificates, least-privilege policies, rules)"
FUNCTION_KEY="$FUNCTION_KEY" dotnet "$SIM_DLL" provision --api "http://127.0.0.1:$FUNCTIONS_PORT" --certs "$CERTS" \
  --sensors "$SENSORS" --pumps "$PUMPS" > "$LOGS/provision.log" 2>&1 \
  || { echo "provisioning failed; see .local/logs/provision.log" >&2; exit 1; }

echo "==> starting the broker (MQTT/TLS $MQTT_PORT, WSS $WSS_PORT, API $BROKER_API_PORT; authorization on)"
(cd "$BROKER_BIN" && ASPNETCORE_ENVIRONMENT=Development \
  Broker__Mqtt__BindAddress=127.0.0.1 Broker__Mqtt__Port="$MQTT_PORT" \
  Broker__WebSockets__BindAddress=127.0.0.1 Broker__WebSockets__Port="$WSS_PORT" \
  Broker__Api__Port="$BROKER_API_PORT" Broker__Api__Key="$BROKER_API_KEY" \
  Broker__Tls__ServerCertificatePath="$CERTS/server.crt" Broker__Tls__ServerKeyPath="$CERTS/server.key" \
  Broker__Tls__ClientCaPath="$CERTS/ca.crt" \
  Storage__ConnectionString="$STORAGE" \
  Broker__Events__Sink=Webhook Broker__Events__WebhookUrl="http://127.0.0.1:$FUNCTIONS_PORT/api/events" \
  Broker__Events__WebhookKey="$FUNCTION_KEY" \
  exec dotnet IoTServerless.Broker.dll) > "$LOGS/broker.log" 2>&1 &
pids+=($!)
wait_for_port "$MQTT_PORT" 60 || { echo "the broker did not start; see .local/logs/broker.log" >&2; exit 1; }

cat <<INFO

IoTServerless is running locally.
  Function app   http://127.0.0.1:$FUNCTIONS_PORT/api/...      (header x-functions-key: \$FUNCTION_KEY from .local/secrets.env)
  Broker         mqtts://localhost:$MQTT_PORT  and  wss://localhost:$WSS_PORT/mqtt   (client certificates in .local/certs/devices)
  Azurite        table 127.0.0.1:$TABLE_PORT, blob $BLOB_PORT, queue $QUEUE_PORT
  Logs           .local/logs/{functions,broker,azurite}.log

The irrigation loop: sensors publish to farmA/sensor/{id}/data; rule SoilTelemetry stores every
reading in the IoTSensorData table; rule LowHumidity calls the IrrigationController function when
humidity < 35, which switches the sensor's pump on for $PUMP_SECONDS s; the pump reports in its shadow and
on farmA/pump/{id}/state, and the sensor's humidity rises. Watch the status line below, or the
"switched pump" lines in .local/logs/functions.log.

Try, in another terminal (source .local/secrets.env first):
  curl -s -H "x-functions-key: \$FUNCTION_KEY" http://127.0.0.1:$FUNCTIONS_PORT/api/rules
  curl -s -H "x-functions-key: \$FUNCTION_KEY" http://127.0.0.1:$FUNCTIONS_PORT/api/things/pump-001/shadow
  curl -s -H "x-functions-key: \$FUNCTION_KEY" http://127.0.0.1:$FUNCTIONS_PORT/api/things/pump-001
  curl -s -X POST -H "x-functions-key: \$FUNCTION_KEY" "http://127.0.0.1:$FUNCTIONS_PORT/api/topics/farmA/pump/pump-001/cmd?qos=1" -d '{"command":"ON","duration":120}'
  mosquitto_sub -h localhost -p $MQTT_PORT --cafile .local/certs/ca.crt --cert .local/certs/devices/farm-monitor.crt --key .local/certs/devices/farm-monitor.key -i farm-monitor -t 'farmA/#' -v

Starting the farm: $SENSORS soil sensors, $PUMPS pumps (Ctrl+C stops everything).
INFO

dotnet "$SIM_DLL" run --host localhost --port "$MQTT_PORT" --certs "$CERTS" \
  --sensors "$SENSORS" --pumps "$PUMPS" --interval "$INTERVAL" ${DURATION:+--duration "$DURATION"}
