#!/usr/bin/env bash
# Rules engine benchmark on the local stack: Azurite + the function app (standalone) + the broker
# (authorization on, the farm provisioned through the API with its least-privilege policies and the
# seed rules), then `FarmSimulator rules-load`: QoS 1 readings from SENSORS TLS connections through
# the SoilTelemetry rule into the IoTSensorData table — rows per second and rows lost — next to
# Azurite's own batch-insert and single-row rates measured in the same run.
# usage: scripts/bench-rules.sh [SENSORS=1000] [MESSAGES=20]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
SENSORS=${1:-1000}; MESSAGES=${2:-20}
CERTS=$LOCAL/bench/rules-certs
BLOB_PORT=${BLOB_PORT:-20120}; QUEUE_PORT=${QUEUE_PORT:-20121}; TABLE_PORT=${TABLE_PORT:-20122}
FN_PORT=${FN_PORT:-17091}; MQTT_PORT=${MQTT_PORT:-18863}; API_PORT=${API_PORT:-18864}
mkdir -p "$LOCAL/logs" "$CERTS"
need node; need dotnet
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_azurite
for project in functions/IoTServerless.Functions broker/IoTServerless.Broker firmware/FarmSimulator; do
  dotnet build "$project" -c Release -nologo -v q -clp:ErrorsOnly || exit 1
done
SIM="dotnet firmware/FarmSimulator/bin/Release/net10.0/FarmSimulator.dll"
$SIM certs --out "$CERTS" --sensors "$SENSORS" --pumps 0 | head -1

API_KEY=$(random_secret); FN_KEY=$(random_secret)
node "$AZURITE_PREFIX/node_modules/azurite/dist/src/azurite.js" --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" \
  --queueHost 127.0.0.1 --queuePort "$QUEUE_PORT" --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" \
  --location "$(mktemp -d)" --skipApiVersionCheck --disableProductStyleUrl --silent > "$LOCAL/logs/bench-rules-azurite.log" 2>&1 &
AZ_PID=$!
STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$QUEUE_PORT/devstoreaccount1;TableEndpoint=http://127.0.0.1:$TABLE_PORT/devstoreaccount1;"
(cd functions/IoTServerless.Functions/bin/Release/net10.0 && Logging__LogLevel__Default=Warning Storage__ConnectionString="$STORAGE" \
  BrokerApi__BaseUrl="http://127.0.0.1:$API_PORT/" BrokerApi__Key="$API_KEY" Hosting__FunctionKey="$FN_KEY" \
  CertificateAuthority__LocalDirectory="$CERTS" \
  exec dotnet IoTServerless.Functions.dll --urls "http://127.0.0.1:$FN_PORT") > "$LOCAL/logs/bench-rules-functions.log" 2>&1 &
FN_PID=$!
trap 'kill $BR_PID $FN_PID $AZ_PID 2>/dev/null' EXIT
BR_PID=
wait_for_port "$TABLE_PORT" 30 && wait_for_port "$FN_PORT" 60 || { echo "the stack did not start (see $LOCAL/logs/bench-rules-*.log)" >&2; exit 1; }
echo "==> provisioning $SENSORS sensors and the seed rules"
FUNCTION_KEY="$FN_KEY" $SIM provision --api "http://127.0.0.1:$FN_PORT" --certs "$CERTS" --sensors "$SENSORS" --pumps 0 \
  > "$LOCAL/logs/bench-rules-provision.log" 2>&1 || { echo "provisioning failed (see $LOCAL/logs/bench-rules-provision.log)" >&2; exit 1; }
(cd broker/IoTServerless.Broker/bin/Release/net10.0 && Logging__LogLevel__Default=Warning \
  Broker__Mqtt__BindAddress=127.0.0.1 Broker__Mqtt__Port="$MQTT_PORT" Broker__WebSockets__Enabled=false \
  Broker__Api__Port="$API_PORT" Broker__Api__Key="$API_KEY" \
  Broker__Tls__ServerCertificatePath="$CERTS/server.crt" Broker__Tls__ServerKeyPath="$CERTS/server.key" \
  Broker__Tls__ClientCaPath="$CERTS/ca.crt" Storage__ConnectionString="$STORAGE" \
  Broker__Events__Sink=Webhook Broker__Events__WebhookUrl="http://127.0.0.1:$FN_PORT/api/events" Broker__Events__WebhookKey="$FN_KEY" \
  exec dotnet IoTServerless.Broker.dll) > "$LOCAL/logs/bench-rules-broker.log" 2>&1 &
BR_PID=$!
wait_for_port "$MQTT_PORT" 60 || { echo "the broker did not start (see $LOCAL/logs/bench-rules-broker.log)" >&2; exit 1; }
sleep 3 # the broker's rule index picks the rules up within its poll interval

STORAGE_CONNECTION_STRING="$STORAGE" $SIM rules-load --host 127.0.0.1 --port "$MQTT_PORT" --certs "$CERTS" \
  --sensors "$SENSORS" --messages "$MESSAGES"
