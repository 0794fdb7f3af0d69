// Every role assignment, on the narrowest scope, named guid(scope, principal, role) so that
// re-provisioning is idempotent. The deploying user (when principalId is given) gets what the hooks
// and a developer debugging the deployment need.
param storageAccountName string
param keyVaultName string
param eventGridTopicName string
param registryName string
param applicationInsightsName string
param functionPrincipalId string
param brokerPrincipalId string
param scriptPrincipalId string
param userPrincipalId string
@allowed(['User', 'ServicePrincipal'])
param userPrincipalType string

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  acrPush: '8311e382-0749-4cb8-b61a-304f252e45ec'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var user = empty(userPrincipalId) ? [] : [{ id: userPrincipalId, type: userPrincipalType }]
var fn = [{ id: functionPrincipalId, type: 'ServicePrincipal' }]
var brk = [{ id: brokerPrincipalId, type: 'ServicePrincipal' }]
var script = [{ id: scriptPrincipalId, type: 'ServicePrincipal' }]

// Functions host (AzureWebJobsStorage, deployment package: blob owner, queues) and the platform's tables;
// the broker reads the registry and the identity change feed from tables.
var storageAssignments = concat(
  map(concat(fn, user), p => { principal: p, role: roles.storageBlobDataOwner }),
  map(concat(fn, user), p => { principal: p, role: roles.storageQueueDataContributor }),
  map(concat(fn, brk, user), p => { principal: p, role: roles.storageTableDataContributor })
)

// The function app: the broker API key (Key Vault reference), the platform CA (read the certificate,
// sign with its key). The broker: its API key and server certificate (Container Apps secrets).
// The deployment script and the deploying user: create certificates (the hooks), read secrets.
var keyVaultAssignments = concat(
  map(concat(fn, brk), p => { principal: p, role: roles.keyVaultSecretsUser }),
  map(fn, p => { principal: p, role: roles.keyVaultCertificateUser }),
  map(fn, p => { principal: p, role: roles.keyVaultCryptoUser }),
  map(concat(script, user), p => { principal: p, role: roles.keyVaultCertificatesOfficer }),
  map(user, p => { principal: p, role: roles.keyVaultSecretsOfficer })
)

var eventGridAssignments = map(brk, p => { principal: p, role: roles.eventGridDataSender })

var registryAssignments = concat(
  map(brk, p => { principal: p, role: roles.acrPull }),
  map(user, p => { principal: p, role: roles.acrPush })
)

var monitoringAssignments = map(fn, p => { principal: p, role: roles.monitoringMetricsPublisher })

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource eventGridTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: eventGridTopicName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in storageAssignments: {
  name: guid(storageAccount.id, a.principal.id, a.role)
  scope: storageAccount
  properties: {
    principalId: a.principal.id
    principalType: a.principal.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
  }
}]

resource keyVaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in keyVaultAssignments: {
  name: guid(keyVault.id, a.principal.id, a.role)
  scope: keyVault
  properties: {
    principalId: a.principal.id
    principalType: a.principal.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
  }
}]

resource eventGridRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in eventGridAssignments: {
  name: guid(eventGridTopic.id, a.principal.id, a.role)
  scope: eventGridTopic
  properties: {
    principalId: a.principal.id
    principalType: a.principal.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
  }
}]

resource registryRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in registryAssignments: {
  name: guid(registry.id, a.principal.id, a.role)
  scope: registry
  properties: {
    principalId: a.principal.id
    principalType: a.principal.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
  }
}]

resource monitoringRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in monitoringAssignments: {
  name: guid(applicationInsights.id, a.principal.id, a.role)
  scope: applicationInsights
  properties: {
    principalId: a.principal.id
    principalType: a.principal.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
  }
}]
