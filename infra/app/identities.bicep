// User-assigned identities: one per app, one for the deployment script that creates the broker's certificate.
param location string
param tags object
param functionIdentityName string
param brokerIdentityName string
param scriptIdentityName string

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionIdentityName
  location: location
  tags: tags
}

resource brokerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: brokerIdentityName
  location: location
  tags: tags
}

resource scriptIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: scriptIdentityName
  location: location
  tags: tags
}

output functionIdentityId string = functionIdentity.id
output functionClientId string = functionIdentity.properties.clientId
output functionPrincipalId string = functionIdentity.properties.principalId
output brokerIdentityId string = brokerIdentity.id
output brokerClientId string = brokerIdentity.properties.clientId
output brokerPrincipalId string = brokerIdentity.properties.principalId
output scriptIdentityId string = scriptIdentity.id
output scriptPrincipalId string = scriptIdentity.properties.principalId
