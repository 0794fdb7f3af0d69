#!/usr/bin/env bash
# azd postdeploy hook (azure.yaml). Runs after both services are deployed; idempotent.
#  1. Creates the platform CA in Key Vault if absent (EC P-256, key not exportable: device certificates are
#     signed by Key Vault; CertificateAuthority:Kind=KeyVault in the function app).
#  2. Creates or updates the Event Grid subscription that delivers the broker's CloudEvents to the function
#     app's `events` webhook (CloudEvents 1.0 schema; the function answers the validation handshake, which is
#     why this needs the code deployed).
# Reads the azd environment (the outputs of infra/main.bicep), which azd exports to hooks.
# azd runs posix hooks with `sh`: continue in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy)}"
: "${AZURE_KEY_VAULT_NAME:?}" "${AZURE_FUNCTION_APP_NAME:?}" "${FUNCTIONS_BASE_URL:?}" "${EVENT_GRID_TOPIC_NAME:?}"
ca_name="${PLATFORM_CA_CERTIFICATE_NAME:-platform-ca}"
subscription_name="functions-events"

echo "==> platform CA '$ca_name' in Key Vault $AZURE_KEY_VAULT_NAME"
if az keyvault certificate show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$ca_name" --output none 2>/dev/null; then
  echo "    exists"
else
  policy=$(mktemp)
  trap 'rm -f "$policy"' EXIT
  cat > "$policy" <<'POLICY'
{
  "issuerParameters": { "name": "Self" },
  "keyProperties": { "exportable": false, "keyType": "EC", "curve": "P-256", "reuseKey": true },
  "secretProperties": { "contentType": "application/x-pem-file" },
  "x509CertificateProperties": {
    "subject": "CN=IoTServerless Platform CA",
    "keyUsage": ["keyCertSign", "cRLSign", "digitalSignature"],
    "validityInMonths": 120
  },
  "lifetimeActions": [ { "trigger": { "lifetimePercentage": 90 }, "action": { "actionType": "EmailContacts" } } ]
}
POLICY
  az keyvault certificate create --vault-name "$AZURE_KEY_VAULT_NAME" --name "$ca_name" --policy "@$policy" --output none
  echo "    created"
fi

echo "==> Event Grid subscription '$subscription_name' on topic $EVENT_GRID_TOPIC_NAME"
topic_id=$(az eventgrid topic show --resource-group "$AZURE_RESOURCE_GROUP" --name "$EVENT_GRID_TOPIC_NAME" --query id --output tsv)
# The events function is function-level: Event Grid presents the app's default function key.
function_key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --query functionKeys.default --output tsv)
endpoint="${FUNCTIONS_BASE_URL%/}/api/events?code=${function_key}"

if az eventgrid event-subscription show --name "$subscription_name" --source-resource-id "$topic_id" --output none 2>/dev/null; then
  action=update
else
  action=create
fi
# A freshly deployed app may still be starting: the validation handshake is retried.
for attempt in 1 2 3 4 5 6; do
  if [ "$action" = update ]; then
    az eventgrid event-subscription update --name "$subscription_name" --source-resource-id "$topic_id" \
      --endpoint "$endpoint" --output none && ok=1 || ok=0
  else
    az eventgrid event-subscription create --name "$subscription_name" --source-resource-id "$topic_id" \
      --endpoint-type webhook --endpoint "$endpoint" --event-delivery-schema cloudeventschemav1_0 \
      --max-delivery-attempts 30 --event-ttl 1440 --output none && ok=1 || ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "    ${action}d"
    break
  fi
  if [ "$attempt" = 6 ]; then
    echo "Event Grid could not validate ${FUNCTIONS_BASE_URL%/}/api/events; is the functions service deployed?" >&2
    exit 1
  fi
  echo "    validation failed (attempt $attempt), retrying in 20 s"
  sleep 20
done

echo "==> broker: mqtts://${BROKER_HOST:-?}:${BROKER_MQTT_PORT:-8883}  wss://${BROKER_HOST:-?}:${BROKER_WSS_PORT:-443}/mqtt"
