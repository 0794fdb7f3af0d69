# azd postdeploy hook (azure.yaml), Windows: the same steps as postdeploy.sh. Idempotent.
#  1. Creates the platform CA in Key Vault if absent (EC P-256, key not exportable).
#  2. Creates or updates the Event Grid subscription to the function app's `events` webhook (CloudEvents 1.0).
# Reads the azd environment (the outputs of infra/main.bicep), which azd exports to hooks.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_KEY_VAULT_NAME', 'AZURE_FUNCTION_APP_NAME', 'FUNCTIONS_BASE_URL', 'EVENT_GRID_TOPIC_NAME') {
    if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run through azd (azd up / azd deploy)" }
}
$rg = $env:AZURE_RESOURCE_GROUP
$vault = $env:AZURE_KEY_VAULT_NAME
$caName = if ($env:PLATFORM_CA_CERTIFICATE_NAME) { $env:PLATFORM_CA_CERTIFICATE_NAME } else { 'platform-ca' }
$subscriptionName = 'functions-events'

function Invoke-Az {
    az @args
    if ($LASTEXITCODE -ne 0) { throw "az $($args -join ' ') failed ($LASTEXITCODE)" }
}

Write-Host "==> platform CA '$caName' in Key Vault $vault"
az keyvault certificate show --vault-name $vault --name $caName --output none 2>$null
if ($LASTEXITCODE -eq 0) {
    Write-Host '    exists'
} else {
    $policy = New-TemporaryFile
    try {
        @'
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
'@ | Set-Content -Path $policy -Encoding utf8NoBOM
        Invoke-Az keyvault certificate create --vault-name $vault --name $caName --policy "@$policy" --output none
        Write-Host '    created'
    } finally {
        Remove-Item $policy -ErrorAction SilentlyContinue
    }
}

Write-Host "==> Event Grid subscription '$subscriptionName' on topic $($env:EVENT_GRID_TOPIC_NAME)"
$topicId = Invoke-Az eventgrid topic show --resource-group $rg --name $env:EVENT_GRID_TOPIC_NAME --query id --output tsv
$functionKey = Invoke-Az functionapp keys list --resource-group $rg --name $env:AZURE_FUNCTION_APP_NAME --query functionKeys.default --output tsv
$endpoint = "$($env:FUNCTIONS_BASE_URL.TrimEnd('/'))/api/events?code=$functionKey"

az eventgrid event-subscription show --name $subscriptionName --source-resource-id $topicId --output none 2>$null
$action = if ($LASTEXITCODE -eq 0) { 'update' } else { 'create' }
for ($attempt = 1; $attempt -le 6; $attempt++) {
    if ($action -eq 'update') {
        az eventgrid event-subscription update --name $subscriptionName --source-resource-id $topicId --endpoint $endpoint --output none
    } else {
        az eventgrid event-subscription create --name $subscriptionName --source-resource-id $topicId `
            --endpoint-type webhook --endpoint $endpoint --event-delivery-schema cloudeventschemav1_0 `
            --max-delivery-attempts 30 --event-ttl 1440 --output none
    }
    if ($LASTEXITCODE -eq 0) { Write-Host "    $($action)d"; break }
    if ($attempt -eq 6) { throw "Event Grid could not validate $($env:FUNCTIONS_BASE_URL)/api/events; is the functions service deployed?" }
    Write-Host "    validation failed (attempt $attempt), retrying in 20 s"
    Start-Sleep -Seconds 20
}

Write-Host "==> broker: mqtts://$($env:BROKER_HOST):$($env:BROKER_MQTT_PORT)  wss://$($env:BROKER_HOST):$($env:BROKER_WSS_PORT)/mqtt"
