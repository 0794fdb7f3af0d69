// The custom topic the broker publishes CloudEvents batches to (Entra ID only: no access keys).
// Its subscription to the function app's `events` webhook is created by the postdeploy hook, once
// the code that answers the validation handshake is deployed.
param location string
param tags object
param name string

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

output name string = topic.name
output endpoint string = topic.properties.endpoint
