// Key Vault (RBAC): the platform CA (created by the postdeploy hook), the broker's server certificate
// (created by a deployment script) and the broker API's shared key, which both apps reference.
param location string
param tags object
param name string

@secure()
param brokerApiKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource brokerApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'broker-api-key'
  properties: {
    value: brokerApiKey
    contentType: 'text/plain'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
output brokerApiKeySecretUri string = '${vault.properties.vaultUri}secrets/${brokerApiKeySecret.name}'
